#:project ../src/Kettle.Orleans/Kettle.Orleans.csproj
#:project ../src/Kettle.Orleans.Silo/Kettle.Orleans.Silo.csproj
#:package Microsoft.Orleans.Server@10.4.2
#:package Microsoft.Orleans.Client@10.4.2
#:property PublishAot=false
// The process-pool tutorial's sum, on an Orleans cluster. This app starts two silos and a client in one process,
// on 127.0.0.1 only (in production each silo is its own host, deployed with the job assemblies). The job methods
// are public static methods, exactly as for a ProcessPoolExecutor: only the executor changes. What travels is the
// method's identity (assembly name and version, type, method) and its arguments as JSON; each silo runs only
// methods of the job assemblies it registered with AddKettleWorkers.
using System.Diagnostics;
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

var clock = Stopwatch.StartNew();
int primaryPort = FreePort();
using var siloA = await StartSilo("silo-a", primaryPort, FreePort(), primaryPort);
using var siloB = await StartSilo("silo-b", FreePort(), FreePort(), primaryPort);
using var client = await StartClient(siloA, siloB);
Console.WriteLine($"cluster up: 2 silos and a client ({clock.Elapsed.TotalSeconds:0.0} s)");

using (var cluster = new ClusterExecutor(client.Services.GetRequiredService<IClusterClient>(), new ClusterExecutorOptions { MaxInFlight = 32 }))
{
    Aio.Run(Main(cluster));
}
await client.StopAsync();
await siloB.StopAsync();
await siloA.StopAsync();

static async Coroutine Main(ClusterExecutor cluster)
{
    var clock = Stopwatch.StartNew();
    var result = await Aio.RunInExecutor(cluster, Work.CpuHeavyWork, 10_000_000);
    Console.WriteLine($"Result: {result}   ({clock.Elapsed.TotalMilliseconds:0} ms)");

    clock.Restart();
    var calls = Enumerable.Range(0, 1000).Select(i => Aio.RunInExecutor(cluster, Work.Square, (long)i)).ToArray();
    long[] squares = await Aio.Gather(calls);
    Console.WriteLine($"1,000 small calls: sum of their squares {squares.Sum()}   ({clock.Elapsed.TotalMilliseconds:0} ms)");
    Console.WriteLine("where they ran:");
    foreach (var (silo, count) in cluster.CallsBySilo.OrderBy(kv => kv.Key, StringComparer.Ordinal))
    {
        Console.WriteLine($"  {silo}: {count} calls");
    }
}

static int FreePort()
{
    using var probe = new TcpListener(IPAddress.Loopback, 0);
    probe.Start();
    return ((IPEndPoint)probe.LocalEndpoint).Port;
}

static async Task<IHost> StartSilo(string name, int siloPort, int gatewayPort, int primaryPort)
{
    var builder = Host.CreateApplicationBuilder();
    // Orleans notes at start-up (no server GC on this small machine, a watchdog on a loaded one) are not the point here.
    builder.Logging.SetMinimumLevel(LogLevel.Error);
    builder.UseOrleans(silo => silo
        .UseLocalhostClustering(siloPort, gatewayPort, new IPEndPoint(IPAddress.Loopback, primaryPort))
        .Configure<SiloOptions>(o => o.SiloName = name)
        .AddKettleWorkers(typeof(Work).Assembly));
    var host = builder.Build();
    await host.StartAsync();
    return host;
}

static async Task<IHost> StartClient(params IHost[] silos)
{
    int[] gateways = silos
        .Select(s => s.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<EndpointOptions>>().Value.GatewayPort)
        .ToArray();
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.SetMinimumLevel(LogLevel.Error);
    builder.UseOrleansClient(c => c.UseLocalhostClustering(gateways));
    var host = builder.Build();
    await host.StartAsync();
    return host;
}

public static class Work
{
    /// <summary>The sum of i * i for i below n (333333283333335000000 for ten million: an Int128).</summary>
    public static Int128 CpuHeavyWork(int n)
    {
        Int128 total = 0;
        for (long i = 0; i < n; i++)
        {
            total += (Int128)(i * i);
        }
        return total;
    }

    public static long Square(long x) => x * x;
}
