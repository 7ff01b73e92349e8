// Round-trip cost of an executor call: the thread pool, the process pool (2 workers) and the cluster executor
// (2 silos, each its own process, on 127.0.0.1; this process is the client), side by side.
// Usage: dotnet run -c Release --project bench/Kettle.Orleans.Bench [N]   (N small calls, default 2000)
//        Kettle.Orleans.Bench silo NAME SILO_PORT GATEWAY_PORT PRIMARY_PORT   (what the bench starts: one silo)
// Prints one JSON line per executor and measure.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kettle;
using Kettle.Orleans;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;

if (args.Length == 5 && args[0] == "silo")
{
    await Silo.Run(args[1], Port(args[2]), Port(args[3]), Port(args[4]));
    return 0;
}
int n = args.Length > 0 ? Port(args[0]) : 2000;

using (var threads = new ThreadPoolExecutor(maxWorkers: 2))
{
    Aio.Run(Measure.All("thread_pool", threads, n));
}
using (var processes = new ProcessPoolExecutor(new ProcessPoolOptions { MaxWorkers = 2 }))
{
    Aio.Run(Measure.All("process_pool", processes, n));
}

int primary = Silo.FreePort();
int[] gateways = [Silo.FreePort(), Silo.FreePort()];
using var siloA = Silo.Start("silo-a", primary, gateways[0], primary);
using var siloB = Silo.Start("silo-b", Silo.FreePort(), gateways[1], primary);
var builder = Host.CreateApplicationBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Error);
builder.UseOrleansClient(c => c.UseLocalhostClustering(gateways));
using var client = builder.Build();
await client.StartAsync();
using (var cluster = new ClusterExecutor(client.Services.GetRequiredService<IClusterClient>(), new ClusterExecutorOptions { MaxInFlight = 64 }))
{
    Aio.Run(Measure.All("cluster", cluster, n));
    Console.Error.WriteLine("cluster calls by silo: " + string.Join(", ", cluster.CallsBySilo.Select(kv => $"{kv.Key}={kv.Value}")));
}
await client.StopAsync();
siloA.StandardInput.Close();
siloB.StandardInput.Close();
siloA.WaitForExit(30_000);
siloB.WaitForExit(30_000);
return 0;

static int Port(string s) => int.Parse(s, CultureInfo.InvariantCulture);

static class Measure
{
    public static async Coroutine All(string executorName, Executor executor, int n)
    {
        // Warm up: workers started, grains activated, code jitted.
        for (int i = 0; i < 200; i++)
        {
            await Aio.RunInExecutor(executor, Jobs.Trivial, i);
        }
        await Aio.RunInExecutor(executor, Jobs.SumOfSquares, 1000);

        int sequential = Math.Min(n, 500);
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < sequential; i++)
        {
            await Aio.RunInExecutor(executor, Jobs.Trivial, i);
        }
        Emit(executorName, "small_call_latency", sequential, sw.Elapsed.TotalSeconds, $"\"round_trip_us\": {F(sw.Elapsed.TotalSeconds / sequential * 1e6)}");

        sw.Restart();
        var tasks = new AioTask<int>[n];
        for (int i = 0; i < n; i++)
        {
            tasks[i] = Aio.RunInExecutor(executor, Jobs.Trivial, i);
        }
        int[] results = await Aio.Gather(tasks);
        if (results[n - 1] != n)
        {
            throw new InvalidOperationException("bad result");
        }
        Emit(executorName, "small_call_throughput", n, sw.Elapsed.TotalSeconds, $"\"calls_per_s\": {F(n / sw.Elapsed.TotalSeconds)}");

        const int sums = 10;
        sw.Restart();
        for (int i = 0; i < sums; i++)
        {
            var sum = await Aio.RunInExecutor(executor, Jobs.SumOfSquares, 10_000_000);
            if (sum.ToString(CultureInfo.InvariantCulture) != "333333283333335000000")
            {
                throw new InvalidOperationException("bad sum");
            }
        }
        Emit(executorName, "sum_of_squares_latency", sums, sw.Elapsed.TotalSeconds, $"\"round_trip_ms\": {F(sw.Elapsed.TotalSeconds / sums * 1e3)}");

        sw.Restart();
        var parallel = Enumerable.Range(0, sums).Select(_ => Aio.RunInExecutor(executor, Jobs.SumOfSquares, 10_000_000)).ToArray();
        await Aio.Gather(parallel);
        Emit(executorName, "sum_of_squares_throughput", sums, sw.Elapsed.TotalSeconds, $"\"calls_per_s\": {F(sums / sw.Elapsed.TotalSeconds)}");
    }

    private static string F(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);

    private static void Emit(string executor, string measure, int n, double seconds, string extra) =>
        Console.WriteLine($"{{\"executor\": \"{executor}\", \"measure\": \"{measure}\", \"n\": {n}, \"seconds\": {seconds.ToString("0.000", CultureInfo.InvariantCulture)}, {extra}}}");
}

static class Silo
{
    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    /// <summary>Starts this app as a silo process and waits until it says it is up.</summary>
    public static Process Start(string name, int siloPort, int gatewayPort, int primaryPort)
    {
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(Silo).Assembly.Location);
        }
        foreach (var a in new[] { "silo", name, Inv(siloPort), Inv(gatewayPort), Inv(primaryPort) })
        {
            info.ArgumentList.Add(a);
        }
        var process = Process.Start(info)!;
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && line != "READY")
        {
        }
        if (line is null)
        {
            throw new InvalidOperationException($"silo {name} did not start");
        }
        return process;
    }

    /// <summary>A silo running this assembly's jobs, until its standard input closes.</summary>
    public static async Task Run(string name, int siloPort, int gatewayPort, int primaryPort)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(siloPort, gatewayPort, new IPEndPoint(IPAddress.Loopback, primaryPort))
            .Configure<SiloOptions>(o => o.SiloName = name)
            .AddKettleWorkers(o =>
            {
                o.JobAssemblies.Add(typeof(Jobs).Assembly);
                o.MaxConcurrentCalls = Environment.ProcessorCount;
            }));
        using var host = builder.Build();
        await host.StartAsync();
        Console.WriteLine("READY");
        await Console.In.ReadToEndAsync();
        await host.StopAsync();
    }

    private static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The calls measured (public static: every executor can run them).</summary>
public static class Jobs
{
    public static int Trivial(int i) => i + 1;

    public static Int128 SumOfSquares(int n)
    {
        Int128 total = 0;
        for (long i = 0; i < n; i++)
        {
            total += (Int128)(i * i);
        }
        return total;
    }
}
