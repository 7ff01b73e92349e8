// Kettle's side of ../shared/bench: the same workloads, one JSON line per run (peer "kettle").
// Usage: Kettle.Bench WORKLOAD N    (workloads: spawn, switch, sleepers, queue, to_thread, lock, process_pool,
//                                    taskgroup, echo_loopback)
//        Kettle.Bench echo_server     (prints "PORT <n>", echoes on 127.0.0.1 until killed)
// The headline echo figure comes from ../shared/bench/common/echo_run.py (the shared Node client) driving
// echo_server; echo_loopback (a Kettle client in the same process) exists so the smoke test needs no peer.
using System.Diagnostics;
using System.Globalization;
using Kettle;

if (args.Length == 1 && args[0] == "echo_server")
{
    Aio.Run(Workloads.EchoServer());
    return 0;
}

if (args.Length < 2 || !int.TryParse(args[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n <= 0)
{
    Console.Error.WriteLine("usage: kettle.sh WORKLOAD N   (WORKLOAD: spawn | switch | sleepers | queue | to_thread | lock | process_pool | taskgroup | echo_loopback), or: kettle.sh echo_server");
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
    case "switch":
        Aio.Run(Workloads.Switch(n));
        break;
    case "queue":
        Aio.Run(Workloads.Queue(n));
        break;
    case "to_thread":
        Aio.Run(Workloads.ToThread(n));
        break;
    case "lock":
        Aio.Run(Workloads.LockHandoff(n));
        break;
    case "process_pool":
        Aio.Run(Workloads.ProcessPool(n));
        break;
    case "taskgroup":
        Aio.Run(Workloads.TaskGroupFanOut(n));
        break;
    case "echo_loopback":
        Aio.Run(Workloads.EchoLoopback(n));
        break;
    default:
        Console.Error.WriteLine($"unknown workload '{args[0]}' (known: spawn, switch, sleepers, queue, to_thread, lock, process_pool, taskgroup, echo_loopback)");
        return 2;
}
return 0;

static class Workloads
{
    // 5. echo server (client: ../shared/bench/node/echo_client.mjs, driven by common/echo_run.py).
    public static async Coroutine EchoServer()
    {
        var server = await Aio.StartServer(EchoHandler, "127.0.0.1", 0, backlog: 1024);
        Console.WriteLine($"PORT {server.Port}");
        Console.Out.Flush();
        await server.ServeForever();
    }

    // TCP_NODELAY is set on every accepted connection by the server.
    private static async Coroutine EchoHandler(AioStreamReader reader, AioStreamWriter writer)
    {
        try
        {
            while (true)
            {
                var data = await reader.Read(65536);
                if (data.Length == 0)
                {
                    break;
                }
                writer.Write(data);
                await writer.Drain();
            }
        }
        catch (IOException)
        {
            // Connection reset by the client: done.
        }
        catch (System.Net.Sockets.SocketException)
        {
            // Same.
        }
        finally
        {
            writer.Close();
        }
    }

    // Echo with a Kettle client in the same process: 50 connections (fewer when N is small), N requests of 64 bytes
    // in all, one outstanding per connection. Not comparable with the echo figure (client and server share the loop).
    public static async Coroutine EchoLoopback(int n)
    {
        var server = await Aio.StartServer(EchoHandler, "127.0.0.1", 0, backlog: 1024);
        int conns = Math.Min(50, n);
        int perConn = n / conns;
        var sw = Report.StartTimer();
        var clients = new AioTask<int>[conns];
        for (int i = 0; i < conns; i++)
        {
            clients[i] = Aio.CreateTask(EchoClient(server.Port, perConn));
        }
        int[] done = await Aio.Gather(clients);
        double dt = sw.Elapsed.TotalSeconds;
        server.Close();
        await server.WaitClosed();
        long total = 0;
        foreach (int d in done)
        {
            total += d;
        }
        if (total != (long)conns * perConn)
        {
            throw new InvalidOperationException("bad echo count");
        }
        Report.Emit("echo_loopback", total, dt, $", \"conns\": {conns}");
    }

    private static async Coroutine<int> EchoClient(int port, int requests)
    {
        var (reader, writer) = await Aio.OpenConnection("127.0.0.1", port);
        var payload = new byte[64];
        try
        {
            for (int i = 0; i < requests; i++)
            {
                writer.Write(payload);
                await writer.Drain();
                var back = await reader.ReadExactly(payload.Length);
                if (back.Length != payload.Length)
                {
                    throw new InvalidOperationException("short echo");
                }
            }
        }
        finally
        {
            writer.Close();
        }
        return requests;
    }

    // TaskGroup fan-out: N children in groups of 1,000; each child yields once and returns. One group at a time.
    public static async Coroutine TaskGroupFanOut(int n)
    {
        const int GroupSize = 1000;
        var sw = Report.StartTimer();
        long created = 0;
        for (int done = 0; done < n; done += GroupSize)
        {
            int size = Math.Min(GroupSize, n - done);
            await TaskGroup.Run(tg => FillGroup(tg, size));
            created += size;
        }
        Report.Emit("taskgroup", created, sw.Elapsed.TotalSeconds, $", \"group_size\": {GroupSize}");
    }

    // The body only creates the children; leaving the group awaits them (asyncio: `async with TaskGroup() as tg:`).
#pragma warning disable CS1998 // an async body with no await: the group's exit is the await.
    private static async Coroutine FillGroup(TaskGroup tg, int size)
#pragma warning restore CS1998
    {
        for (int i = 0; i < size; i++)
        {
            _ = tg.CreateTask(One(i));
        }
    }

    // 1. spawn: N tasks that each yield once to the loop and return their index; wait for all (gather).
    public static async Coroutine Spawn(int n)
    {
        var sw = Report.StartTimer();
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
        var sw = Report.StartTimer();
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

    // 2. switch: two coroutines ping-pong through two capacity-1 queues; N handoffs in all.
    public static async Coroutine Switch(int n)
    {
        var a2b = new AioQueue<int>(1);
        var b2a = new AioQueue<int>(1);
        int rounds = n / 2;
        var sw = Report.StartTimer();
        var ping = Aio.CreateTask(Ping(a2b, b2a, rounds));
        var pong = Aio.CreateTask(Pong(a2b, b2a, rounds));
        await ping;
        await pong;
        Report.Emit("switch", n, sw.Elapsed.TotalSeconds);
    }

    private static async Coroutine Ping(AioQueue<int> a2b, AioQueue<int> b2a, int rounds)
    {
        for (int i = 0; i < rounds; i++)
        {
            await a2b.Put(i);
            await b2a.Get();
        }
    }

    private static async Coroutine Pong(AioQueue<int> a2b, AioQueue<int> b2a, int rounds)
    {
        for (int i = 0; i < rounds; i++)
        {
            var v = await a2b.Get();
            await b2a.Put(v);
        }
    }

    // 4. queue: one producer, one consumer, a bounded queue of 1024, N ints; the sum is checked.
    public static async Coroutine Queue(int n)
    {
        var q = new AioQueue<int>(1024);
        var sw = Report.StartTimer();
        var producer = Aio.CreateTask(Produce(q, n));
        var consumer = Aio.CreateTask(Consume(q, n));
        await producer;
        long sum = await consumer;
        sw.Stop();
        if (sum != (long)n * (n - 1) / 2)
        {
            throw new InvalidOperationException("bad sum");
        }
        Report.Emit("queue", n, sw.Elapsed.TotalSeconds);
    }

    private static async Coroutine Produce(AioQueue<int> q, int n)
    {
        for (int i = 0; i < n; i++)
        {
            await q.Put(i);
        }
    }

    private static async Coroutine<long> Consume(AioQueue<int> q, int n)
    {
        long s = 0;
        for (int i = 0; i < n; i++)
        {
            s += await q.Get();
        }
        return s;
    }

    // 6. to_thread: N calls of f(i) = i + 1 through the default executor, all started then awaited together.
    public static async Coroutine ToThread(int n)
    {
        var sw = Report.StartTimer();
        var tasks = new AioTask<int>[n];
        for (int i = 0; i < n; i++)
        {
            tasks[i] = Aio.ToThread(Trivial, i);
        }
        var submitted = sw.Elapsed;
        int[] res = await Aio.Gather(tasks);
        sw.Stop();
        Report.Phases("to_thread", submitted, sw.Elapsed);
        if (res[n - 1] != n)
        {
            throw new InvalidOperationException("bad result");
        }
        Report.Emit("to_thread", n, sw.Elapsed.TotalSeconds);
    }

    private static int Trivial(int i) => i + 1;

    // Process-pool round trip: a trivial call sent to a worker process and back. Reports throughput for N calls
    // in flight together (2 workers, started before timing) and the latency of one call at a time.
    public static async Coroutine ProcessPool(int n)
    {
        using var pool = new ProcessPoolExecutor(new ProcessPoolOptions { MaxWorkers = 2 });
        await Aio.Gather(Aio.RunInExecutor(pool, PoolCalls.Trivial, 0), Aio.RunInExecutor(pool, PoolCalls.Trivial, 1));
        var sw = Report.StartTimer();
        var tasks = new AioTask<int>[n];
        for (int i = 0; i < n; i++)
        {
            tasks[i] = Aio.RunInExecutor(pool, PoolCalls.Trivial, i);
        }
        int[] res = await Aio.Gather(tasks);
        double total = sw.Elapsed.TotalSeconds;
        if (res[n - 1] != n)
        {
            throw new InvalidOperationException("bad result");
        }
        int sequential = Math.Min(n, 200);
        sw.Restart();
        for (int i = 0; i < sequential; i++)
        {
            await Aio.RunInExecutor(pool, PoolCalls.Trivial, i);
        }
        double latency = sw.Elapsed.TotalSeconds / sequential;
        Report.Emit("process_pool", n, total, $", \"round_trip_latency_us\": {(latency * 1e6).ToString("0.0", CultureInfo.InvariantCulture)}");
    }

    // Lock hand-off: two tasks take turns on one lock, each holding it across a yield; N acquisitions in all.
    public static async Coroutine LockHandoff(int n)
    {
        var gate = new AioLock();
        var sw = Report.StartTimer();
        var a = Aio.CreateTask(TakeTurns(gate, n / 2));
        var b = Aio.CreateTask(TakeTurns(gate, n / 2));
        await a;
        await b;
        Report.Emit("lock", n, sw.Elapsed.TotalSeconds);
    }

    private static async Coroutine TakeTurns(AioLock gate, int times)
    {
        for (int i = 0; i < times; i++)
        {
            using (await gate.Acquire())
            {
                await Aio.Yield();
            }
        }
    }
}

static class Report
{
    private static TimeSpan cpuAtStart;
    private static TimeSpan jitAtStart;
    private static long jitMethodsAtStart;
    private static TimeSpan jitHereAtStart;
    private static JitLog? jitLog;
    private static DateTime timedFrom;
    private static int loopOsThread;

    /// <summary>Starts the timed part; the process CPU time used from here is reported as cpu_s (on a loaded
    /// machine, wall time includes waiting for a core; CPU time shows the work itself, GC threads included).</summary>
    public static Stopwatch StartTimer()
    {
        if (Environment.GetEnvironmentVariable("KETTLE_BENCH_GC") is { Length: > 0 })
        {
            // Diagnostics only: compile the reporting code now, so that the JIT figures below are the workload's.
            foreach (var m in typeof(Report).GetMethods(System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public))
            {
                System.Runtime.CompilerServices.RuntimeHelpers.PrepareMethod(m.MethodHandle);
            }
        }
        jitLog ??= JitLog.Start();
        if (jitLog is not null)
        {
            loopOsThread = int.Parse(File.ReadAllText("/proc/thread-self/stat").Split(' ')[0], CultureInfo.InvariantCulture);
            timedFrom = DateTime.UtcNow;
        }
        cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        jitAtStart = System.Runtime.JitInfo.GetCompilationTime();
        jitMethodsAtStart = System.Runtime.JitInfo.GetCompiledMethodCount();
        jitHereAtStart = System.Runtime.JitInfo.GetCompilationTime(currentThread: true);
        return Stopwatch.StartNew();
    }

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

    /// <summary>With KETTLE_BENCH_GC set, a line on stderr splitting a workload's time into submitting and waiting.</summary>
    // Not inlined: formatting the line, inlined into the workload's own loop, made that method several times slower to
    // compile, inside the timed part.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    public static void Phases(string workload, TimeSpan submitted, TimeSpan total)
    {
        if (Environment.GetEnvironmentVariable("KETTLE_BENCH_GC") is { Length: > 0 })
        {
            Console.Error.WriteLine($"{workload}: submitting {submitted.TotalSeconds:0.000} s, then waiting for the results {(total - submitted).TotalSeconds:0.000} s");
        }
    }

    public static string F(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);

    public static void Emit(string workload, long n, double seconds, string extra = "")
    {
        if (Environment.GetEnvironmentVariable("KETTLE_BENCH_GC") is { Length: > 0 })
        {
            // Diagnostics for profiling (stderr, so the JSON line stays the only stdout): where the time went.
            Console.Error.WriteLine(
                $"gc: gen0 {GC.CollectionCount(0)}, gen1 {GC.CollectionCount(1)}, gen2 {GC.CollectionCount(2)}, " +
                $"pause {GC.GetTotalPauseDuration().TotalSeconds:0.000} s, allocated {GC.GetTotalAllocatedBytes() / (double)n:0.0} B per op " +
                $"(whole process), heap {GC.GetTotalMemory(false) / 1048576.0:0.0} MB");
            // JIT work while timed (all threads: the tiering thread's optimized recompiles included).
            Console.Error.WriteLine(
                $"jit: {System.Runtime.JitInfo.GetCompiledMethodCount() - jitMethodsAtStart} methods compiled while timed, " +
                $"{(System.Runtime.JitInfo.GetCompilationTime() - jitAtStart).TotalMilliseconds:0.0} ms, " +
                $"{(System.Runtime.JitInfo.GetCompilationTime(currentThread: true) - jitHereAtStart).TotalMilliseconds:0.0} ms of it on this thread");
        }
        jitLog?.Report(timedFrom, loopOsThread);
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalSeconds;
        double peakMb = StatusKb("VmHWM:") / 1024.0;
        Console.WriteLine($"{{\"peer\": \"kettle\", \"workload\": \"{workload}\", \"n\": {n}, \"seconds\": {F(seconds)}, " +
                          $"\"ops_per_s\": {(n / seconds).ToString("0.0", CultureInfo.InvariantCulture)}, \"peak_rss_mb\": {peakMb.ToString("0.0", CultureInfo.InvariantCulture)}, \"cpu_s\": {F(cpu)}{extra}}}");
    }
}

/// <summary>Static methods the process-pool workload sends to worker processes (they must be public).</summary>
public static class PoolCalls
{
    /// <summary>The trivial call: f(i) = i + 1.</summary>
    public static int Trivial(int i) => i + 1;
}
