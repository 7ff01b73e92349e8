// Kettle's side of ../shared/bench: the same workloads, one JSON line per run (peer "kettle").
// Usage: Kettle.Bench WORKLOAD N    (workloads: spawn, switch, sleepers, queue)
using System.Diagnostics;
using System.Globalization;
using Kettle;

if (args.Length < 2 || !int.TryParse(args[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n <= 0)
{
    Console.Error.WriteLine("usage: kettle.sh WORKLOAD N   (WORKLOAD: spawn | sleepers)");
    return 2;
}

switch (args[0])
{
    case "spawn":
        Aio.Run(Workloads.Spawn(n));
        break;
    case "sleepers":
        Aio.Run(Workloads.Sleepers(n));
        break;
    default:
        Console.Error.WriteLine($"unknown workload '{args[0]}' (known: spawn, sleepers)");
        return 2;
}
return 0;

static class Workloads
{
    // 1. spawn: N tasks that each yield once to the loop and return their index; wait for all (gather).
    public static async Coroutine Spawn(int n)
    {
        var sw = Stopwatch.StartNew();
        var tasks = new AioTask<int>[n];
        for (int i = 0; i < n; i++)
        {
            tasks[i] = Aio.CreateTask(One(i));
        }
        int[] res = await Aio.Gather(tasks);
        sw.Stop();
        if (res[n - 1] != n - 1)
        {
            throw new InvalidOperationException("bad result");
        }
        Report.Emit("spawn", n, sw.Elapsed.TotalSeconds);
    }

    private static async Coroutine<int> One(int i)
    {
        await Aio.Yield();
        return i;
    }

    // 3. sleepers: N tasks each sleep uniform [0,1) s (Random(42)); wait for all.
    public static async Coroutine Sleepers(int n)
    {
        var rng = new Random(42);
        var delays = new double[n];
        double max = 0;
        for (int i = 0; i < n; i++)
        {
            delays[i] = rng.NextDouble();
            max = Math.Max(max, delays[i]);
        }
        long baseKb = Report.StatusKb("VmRSS:");
        var sw = Stopwatch.StartNew();
        var tasks = new AioTask[n];
        for (int i = 0; i < n; i++)
        {
            tasks[i] = Aio.CreateTask(Sleeper(delays[i]));
        }
        foreach (var t in tasks)
        {
            await t;
        }
        double dt = sw.Elapsed.TotalSeconds;
        long peakKb = Report.StatusKb("VmHWM:");
        Report.Emit("sleepers", n, dt, $", \"overhead_s\": {Report.F(dt - max)}, \"bytes_per_task\": {((peakKb - baseKb) * 1024.0 / n).ToString("0.0", CultureInfo.InvariantCulture)}");
    }

    private static async Coroutine Sleeper(double d) => await Aio.Sleep(d);
}

static class Report
{
    public static long StatusKb(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }
        return 0;
    }

    public static string F(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);

    public static void Emit(string workload, long n, double seconds, string extra = "")
    {
        double peakMb = StatusKb("VmHWM:") / 1024.0;
        Console.WriteLine($"{{\"peer\": \"kettle\", \"workload\": \"{workload}\", \"n\": {n}, \"seconds\": {F(seconds)}, " +
                          $"\"ops_per_s\": {(n / seconds).ToString("0.0", CultureInfo.InvariantCulture)}, \"peak_rss_mb\": {peakMb.ToString("0.0", CultureInfo.InvariantCulture)}{extra}}}");
    }
}
