using System.Diagnostics;
using System.Numerics;

namespace Kettle.Tests;

/// <summary>A record sent to and from worker processes.</summary>
public sealed record PoolPoint(int X, int Y, string Label);

/// <summary>A class System.Text.Json cannot read back (its constructor parameter binds to no property).</summary>
public sealed class PoolOpaque
{
    public PoolOpaque(int seed) => Value = seed * 2;

    public int Value { get; }
}

/// <summary>The functions the process pool tests run in worker processes: public static methods of a public class.</summary>
public static class PoolWork
{
    private static string? tag;
    private static int initCount;

    public static int Add(int a, int b) => a + b;

    public static long Square(long x) => x * x;

    public static string Concat(string a, string b) => a + b;

    public static double Half(double x) => x / 2;

    public static int[] Reverse(int[] xs) => xs.Reverse().ToArray();

    public static PoolPoint Move(PoolPoint p, int dx) => p with { X = p.X + dx, Label = p.Label + "!" };

    public static BigInteger PowerOfTen(int n) => BigInteger.Pow(10, n) + 1;

    public static Dictionary<string, List<int>> Group(List<int> xs) =>
        xs.GroupBy(x => x % 2 == 0 ? "even" : "odd").ToDictionary(g => g.Key, g => g.ToList());

    public static int Pid() => Environment.ProcessId;

    /// <summary>Prints to Console.Out: in a worker that must not corrupt the protocol.</summary>
    public static string Noisy(string s)
    {
        Console.WriteLine("noise on stdout from a worker");
        Console.Out.Flush();
        return s;
    }

    public static void Nothing(int x)
    {
        GC.KeepAlive(x);
    }

    public static int Fail(string message) => throw new InvalidOperationException(message);

    public static int FailNested() => throw new InvalidOperationException("outer", new ArgumentException("inner"));

    public static int Exit(int code)
    {
        Environment.Exit(code);
        return 0;
    }

    public static int Overflow(int depth) => Overflow(depth + 1) + 1;

    /// <summary>Writes its pid to <paramref name="pidFile"/>, then waits (at most a minute) for <paramref name="goFile"/>.</summary>
    public static int SleepUntilFile(string pidFile, string goFile)
    {
        File.WriteAllText(pidFile + ".tmp", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        File.Move(pidFile + ".tmp", pidFile);
        var sw = Stopwatch.StartNew();
        while (!File.Exists(goFile) && sw.Elapsed < TimeSpan.FromMinutes(1))
        {
            Thread.Sleep(5);
        }
        return Environment.ProcessId;
    }

    /// <summary>Waits (at most a minute) for <paramref name="goFile"/>, then adds one.</summary>
    public static int AddOneWhenGo(string goFile, int i)
    {
        var sw = Stopwatch.StartNew();
        while (!File.Exists(goFile) && sw.Elapsed < TimeSpan.FromMinutes(1))
        {
            Thread.Sleep(2);
        }
        return i + 1;
    }

    /// <summary>Starts a pool of its own (this worker becomes a parent), runs SleepUntilFile there, and waits.</summary>
    public static int NestedPoolThenWait(string pidFile)
    {
        var pool = new ProcessPoolExecutor(1); // never shut down: the test kills this process
        _ = pool.Submit(SleepUntilFile, pidFile, pidFile + ".never");
        Thread.Sleep(TimeSpan.FromMinutes(1));
        return 0;
    }

    public static int Mark(string path)
    {
        File.WriteAllText(path, "ran");
        return 1;
    }

    public static void Init(string value)
    {
        tag = value;
        initCount++;
    }

    public static void BadInit(string value) => throw new InvalidOperationException("init failed: " + value);

    public static string InitState() => $"{tag}:{initCount}:{Environment.ProcessId}";

    public static int TakesObject(object o) => o.GetHashCode();

    public static int TakesOpaque(PoolOpaque o) => o.Value;

    public static Action ReturnsDelegate() => () => { };

    internal static int NotPublic() => 1;

    public static int Generic<T>(T value) => value?.GetHashCode() ?? 0;
}

/// <summary>A class with an instance method, which cannot be sent.</summary>
public sealed class PoolInstance
{
    public int Value() => 42;
}

public sealed class ProcessPoolTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string dir = Directory.CreateTempSubdirectory("kettle-pool-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static RunOptions RealTime() => new() { HandleCtrlC = false };

    private string PathOf(string name) => Path.Combine(dir, name);

    /// <summary>Waits for a worker to write its pid (a guard against hanging, not a timing assertion).</summary>
    private static int WaitForPid(string path)
    {
        var sw = Stopwatch.StartNew();
        while (!File.Exists(path))
        {
            Assert.True(sw.Elapsed < Patience, $"No worker wrote {path}.");
            Thread.Sleep(10);
        }
        return int.Parse(File.ReadAllText(path), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Coroutine<int> WaitForPidOnLoop(string path)
    {
        var sw = Stopwatch.StartNew();
        while (!File.Exists(path))
        {
            Assert.True(sw.Elapsed < Patience, $"No worker wrote {path}.");
            await Aio.Sleep(0.01);
        }
        return int.Parse(File.ReadAllText(path), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Task<T> Get<T>(Task<T> task) => task.WaitAsync(Patience);

    private static Task<TException> Fails<TException>(Task task)
        where TException : Exception => Assert.ThrowsAsync<TException>(() => task.WaitAsync(Patience));

    [Fact]
    public async Task ProcessPool_results_of_several_types_come_back()
    {
        using var pool = new ProcessPoolExecutor(2);
        var point = new PoolPoint(1, 2, "p");
        Assert.Equal(5, await Get(pool.Submit(PoolWork.Add, 2, 3)));
        Assert.Equal(9_000_000_000_000_000_000L, await Get(pool.Submit(PoolWork.Square, 3_000_000_000L)));
        Assert.Equal("kettle", await Get(pool.Submit(PoolWork.Concat, "ket", "tle")));
        Assert.Equal(0.75, await Get(pool.Submit(PoolWork.Half, 1.5)));
        Assert.True(double.IsNaN(await Get(pool.Submit(PoolWork.Half, double.NaN))));
        Assert.Equal(new[] { 3, 2, 1 }, await Get(pool.Submit(PoolWork.Reverse, new[] { 1, 2, 3 })));
        Assert.Equal(new PoolPoint(11, 2, "p!"), await Get(pool.Submit(PoolWork.Move, point, 10)));
        Assert.Equal(BigInteger.Pow(10, 40) + 1, await Get(pool.Submit(PoolWork.PowerOfTen, 40)));
        var groups = await Get(pool.Submit(PoolWork.Group, new List<int> { 1, 2, 3, 4 }));
        Assert.Equal([2, 4], groups["even"]);
        Assert.Equal([1, 3], groups["odd"]);
        Assert.Equal("quiet channel", await Get(pool.Submit(PoolWork.Noisy, "quiet channel")));
        int pid = await Get(pool.Submit(PoolWork.Pid));
        Assert.NotEqual(Environment.ProcessId, pid);
        Assert.Contains(pid, pool.WorkerProcessIds);
    }

    [Fact]
    public async Task ProcessPool_exception_comes_back_as_RemoteException_with_type_message_and_stack()
    {
        using var pool = new ProcessPoolExecutor(1);
        var ex = await Fails<RemoteException>(pool.Submit(PoolWork.Fail, "boom"));
        Assert.Equal("System.InvalidOperationException", ex.RemoteType);
        Assert.Equal("boom", ex.RemoteMessage);
        Assert.Equal("System.InvalidOperationException: boom", ex.Message);
        Assert.Contains("PoolWork.Fail", ex.RemoteStackTrace, StringComparison.Ordinal);
        Assert.Contains("PoolWork.Fail", ex.ToString(), StringComparison.Ordinal);

        var nested = await Fails<RemoteException>(pool.Submit(PoolWork.FailNested));
        var inner = Assert.IsType<RemoteException>(nested.InnerException);
        Assert.Equal("System.ArgumentException", inner.RemoteType);
        Assert.Equal("inner", inner.RemoteMessage);

        // The worker survives exceptions: the next call runs on it.
        Assert.Equal(3, await Get(pool.Submit(PoolWork.Add, 1, 2)));
    }

    [Fact]
    public void ProcessPool_rejects_calls_that_cannot_be_sent_at_submission()
    {
        using var pool = new ProcessPoolExecutor(1);
        int captured = 41;

        var lambda = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(() => 1); });
        Assert.Contains("lambda", lambda.Message, StringComparison.Ordinal);
        Assert.Contains("public static method", lambda.Message, StringComparison.Ordinal);

        var closure = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(() => captured + 1); });
        Assert.Contains("lambda", closure.Message, StringComparison.Ordinal);

        var instance = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(new PoolInstance().Value); });
        Assert.Contains("instance method", instance.Message, StringComparison.Ordinal);

        static int Local() => 1;
        var local = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(Local); });
        Assert.Contains("local function", local.Message, StringComparison.Ordinal);

        var hidden = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(PoolWork.NotPublic); });
        Assert.Contains("not public", hidden.Message, StringComparison.Ordinal);

        var generic = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(PoolWork.Generic, 1); });
        Assert.Contains("generic", generic.Message, StringComparison.Ordinal);

        var obj = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(PoolWork.TakesObject, (object)1); });
        Assert.Contains("declared as object", obj.Message, StringComparison.Ordinal);

        var opaque = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(PoolWork.TakesOpaque, new PoolOpaque(2)); });
        Assert.Contains("Argument 'o'", opaque.Message, StringComparison.Ordinal);
        Assert.Contains("System.Text.Json", opaque.Message, StringComparison.Ordinal);

        var del = Assert.Throws<ArgumentException>(() => { _ = pool.Submit(PoolWork.ReturnsDelegate); });
        Assert.Contains("cannot be sent back", del.Message, StringComparison.Ordinal);

        // Nothing was queued, so no worker was started.
        Assert.Empty(pool.WorkerProcessIds);
        Assert.Equal(0, pool.QueuedCount);
    }

    [Fact]
    public async Task ProcessPool_worker_killed_under_load_fails_only_its_call_and_is_replaced()
    {
        using var pool = new ProcessPoolExecutor(2);
        string pidFile = PathOf("pid");
        string go = PathOf("go");
        var victim = pool.Submit(PoolWork.SleepUntilFile, pidFile, PathOf("never"));
        var calls = Enumerable.Range(0, 1000).Select(i => pool.Submit(PoolWork.AddOneWhenGo, go, i)).ToArray();
        int pid = WaitForPid(pidFile);
        // At most one gated call runs (on the other worker): the rest wait in the queue.
        Assert.True(pool.QueuedCount >= 998, $"{pool.QueuedCount} calls queued");
        using (var p = Process.GetProcessById(pid))
        {
            p.Kill(); // SIGKILL
        }
        File.WriteAllText(go, "go");

        var died = await Fails<WorkerProcessException>(victim);
        Assert.Equal(pid, died.ProcessId);
        Assert.Contains("PoolWork.SleepUntilFile", died.MethodName, StringComparison.Ordinal);
        Assert.Contains(pid.ToString(System.Globalization.CultureInfo.InvariantCulture), died.Message, StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(9, died.Signal);
            Assert.Contains("SIGKILL", died.Message, StringComparison.Ordinal);
        }
        // Every queued call ends, each with its result: none lost, none failed with the dead worker.
        var results = await Task.WhenAll(calls).WaitAsync(Patience);
        for (int i = 0; i < results.Length; i++)
        {
            Assert.Equal(i + 1, results[i]);
        }
        Assert.DoesNotContain(pid, pool.WorkerProcessIds);
        Assert.Equal(7, await Get(pool.Submit(PoolWork.Add, 3, 4)));
    }

    [Fact]
    public async Task ProcessPool_Environment_Exit_in_the_function_fails_that_call_only()
    {
        using var pool = new ProcessPoolExecutor(1);
        int before = await Get(pool.Submit(PoolWork.Pid));
        var ex = await Fails<WorkerProcessException>(pool.Submit(PoolWork.Exit, 3));
        Assert.Equal(before, ex.ProcessId);
        Assert.Equal(3, ex.ExitCode);
        Assert.Null(ex.Signal);
        Assert.Contains("exit code 3", ex.Message, StringComparison.Ordinal);
        int after = await Get(pool.Submit(PoolWork.Pid));
        Assert.NotEqual(before, after);
    }

    [Fact]
    public async Task ProcessPool_stack_overflow_fails_that_call_only()
    {
        using var pool = new ProcessPoolExecutor(1);
        var ex = await Fails<WorkerProcessException>(pool.Submit(PoolWork.Overflow, 0));
        Assert.NotEqual(0, ex.ProcessId);
        Assert.NotNull(ex.ExitCode);
        Assert.NotEqual(0, ex.ExitCode);
        Assert.Equal(5, await Get(pool.Submit(PoolWork.Add, 2, 3)));
    }

    [Fact]
    public async Task ProcessPool_worker_exits_when_its_stdin_closes_even_while_busy()
    {
        // What happens when the parent dies: the pipe closes and the worker ends mid-call.
        using var pool = new ProcessPoolExecutor(1);
        string pidFile = PathOf("pid");
        var call = pool.Submit(PoolWork.SleepUntilFile, pidFile, PathOf("never"));
        int pid = WaitForPid(pidFile);
        pool.CloseWorkerInput(pid);
        var ex = await Fails<WorkerProcessException>(call);
        Assert.Equal(pid, ex.ProcessId);
        Assert.Equal(0, ex.ExitCode);
        await pool.WhenWorkerExited(pid).WaitAsync(Patience);
    }

    [Fact]
    public async Task ProcessPool_workers_end_when_their_parent_is_killed()
    {
        using var pool = new ProcessPoolExecutor(1);
        string pidFile = PathOf("grandchild");
        var call = pool.Submit(PoolWork.NestedPoolThenWait, pidFile);
        int grandchild = WaitForPid(pidFile);
        int parent = Assert.Single(pool.WorkerProcessIds);
        using (var p = Process.GetProcessById(parent))
        {
            p.Kill(); // kill -9 of a process that owns a pool
        }
        var ex = await Fails<WorkerProcessException>(call);
        Assert.Equal(parent, ex.ProcessId);
        // The orphaned worker sees its stdin close and exits (a guard against hanging, not a timing assertion).
        var sw = Stopwatch.StartNew();
        while (IsRunning(grandchild))
        {
            Assert.True(sw.Elapsed < Patience, $"The orphaned worker {grandchild} is still running.");
            await Task.Delay(20);
        }
    }

    /// <summary>Whether a process that is not ours runs (a zombie waiting for a reaper does not).</summary>
    private static bool IsRunning(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                string stat = File.ReadAllText($"/proc/{pid}/stat");
                return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
            }
            catch (IOException)
            {
                return false;
            }
        }
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [Fact]
    public async Task ProcessPool_cancelling_a_running_call_kills_its_worker()
    {
        using var pool = new ProcessPoolExecutor(1);
        string pidFile = PathOf("pid");
        int pid = 0;
        int next = 0;
        Aio.Run(Main(), RealTime());
        await pool.WhenWorkerExited(pid).WaitAsync(Patience);
        Assert.DoesNotContain(pid, pool.WorkerProcessIds);
        Assert.NotEqual(pid, next);

        async Coroutine Main()
        {
            var running = Aio.RunInExecutor(pool, PoolWork.SleepUntilFile, pidFile, PathOf("never"));
            pid = await WaitForPidOnLoop(pidFile);
            running.Cancel();
            await Assert.ThrowsAsync<CancelledException>(async () => await running);
            next = await Aio.RunInExecutor(pool, PoolWork.Pid);
        }
    }

    [Fact]
    public void ProcessPool_cancelling_a_queued_call_removes_it()
    {
        using var pool = new ProcessPoolExecutor(1);
        string pidFile = PathOf("pid");
        string marker = PathOf("marker");
        int blockerPid = 0;
        int laterPid = 0;
        Aio.Run(Main(), RealTime());
        Assert.Equal(blockerPid, laterPid);
        pool.Shutdown(wait: true);
        Assert.False(File.Exists(marker), "The cancelled call ran.");

        async Coroutine Main()
        {
            var blocker = Aio.RunInExecutor(pool, PoolWork.SleepUntilFile, pidFile, PathOf("go"));
            var queued = Aio.RunInExecutor(pool, PoolWork.Mark, marker);
            await WaitForPidOnLoop(pidFile);
            queued.Cancel();
            File.WriteAllText(PathOf("go"), "go");
            blockerPid = await blocker;
            Assert.True(queued.IsCancelled);
            laterPid = await Aio.RunInExecutor(pool, PoolWork.Pid);
        }
    }

    [Fact]
    public async Task ProcessPool_max_tasks_per_child_replaces_workers()
    {
        using var pool = new ProcessPoolExecutor(new ProcessPoolOptions { MaxWorkers = 1, MaxTasksPerChild = 2 });
        var pids = new int[6];
        for (int i = 0; i < pids.Length; i++)
        {
            pids[i] = await Get(pool.Submit(PoolWork.Pid));
        }
        Assert.Equal(pids[0], pids[1]);
        Assert.Equal(pids[2], pids[3]);
        Assert.Equal(pids[4], pids[5]);
        Assert.Equal(3, pids.Distinct().Count());
        Assert.Equal(0, await pool.WhenWorkerExited(pids[0]).WaitAsync(Patience));
    }

    [Fact]
    public async Task ProcessPool_initializer_runs_once_per_worker()
    {
        using var pool = new ProcessPoolExecutor(new ProcessPoolOptions
        {
            MaxWorkers = 2,
            MaxTasksPerChild = 3,
            Initializer = (Action<string>)PoolWork.Init,
            InitializerArguments = ["hello"],
        });
        var pending = Enumerable.Range(0, 12).Select(_ => pool.Submit(PoolWork.InitState)).ToArray();
        var states = await Task.WhenAll(pending).WaitAsync(Patience);
        // Every call saw its worker initialized exactly once (the state carries the worker's pid).
        Assert.All(states, s => Assert.StartsWith("hello:1:", s, StringComparison.Ordinal));
        // No worker ran more than three calls. How the twelve calls split between the two slots is a race (6 and 6
        // take four workers; 4 and 8, or 5 and 7, take five), so only the bounds are fixed.
        var callsPerWorker = states.GroupBy(s => s).Select(g => g.Count()).ToArray();
        Assert.All(callsPerWorker, n => Assert.InRange(n, 1, 3));
        Assert.InRange(callsPerWorker.Length, 4, 5);
    }

    [Fact]
    public async Task ProcessPool_initializer_failure_breaks_the_pool()
    {
        using var pool = new ProcessPoolExecutor(new ProcessPoolOptions
        {
            MaxWorkers = 1,
            Initializer = (Action<string>)PoolWork.BadInit,
            InitializerArguments = ["x"],
        });
        var ex = await Fails<WorkerProcessException>(pool.Submit(PoolWork.Add, 1, 2));
        Assert.Contains("PoolWork.BadInit", ex.Message, StringComparison.Ordinal);
        var remote = Assert.IsType<RemoteException>(ex.InnerException);
        Assert.Equal("init failed: x", remote.RemoteMessage);
        Assert.Throws<InvalidOperationException>(() => { _ = pool.Submit(PoolWork.Add, 1, 2); });
    }

    [Fact]
    public void ProcessPool_rejects_an_initializer_that_cannot_be_sent()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ProcessPoolExecutor(new ProcessPoolOptions { Initializer = () => { } }));
        Assert.Contains("lambda", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProcessPool_shutdown_with_cancel_pending_cancels_queued_calls()
    {
        var pool = new ProcessPoolExecutor(1);
        string pidFile = PathOf("pid");
        var blocker = pool.Submit(PoolWork.SleepUntilFile, pidFile, PathOf("go"));
        var queued = Enumerable.Range(0, 5).Select(i => pool.Submit(PoolWork.Add, i, i)).ToArray();
        int pid = WaitForPid(pidFile);
        pool.Shutdown(wait: false, cancelPending: true);
        Assert.True(pool.IsShutdown);
        Assert.All(queued, t => Assert.True(t.IsCanceled));
        var after = Assert.Throws<InvalidOperationException>(() => { _ = pool.Submit(PoolWork.Add, 1, 1); });
        Assert.Contains("shut down", after.Message, StringComparison.Ordinal);
        File.WriteAllText(PathOf("go"), "go");
        Assert.Equal(pid, await Get(blocker));
        pool.Shutdown(wait: true);
        Assert.Empty(pool.WorkerProcessIds);
        Assert.True(pool.WhenWorkerExited(pid).IsCompleted);
    }

    [Fact]
    public void ProcessPool_RunInExecutor_from_a_coroutine()
    {
        using var pool = new ProcessPoolExecutor(2);
        var results = Aio.Run(Main(), RealTime());
        Assert.Equal([5, 9, 13], results);

        async Coroutine<int[]> Main()
        {
            await Aio.RunInExecutor(pool, PoolWork.Nothing, 1);
            var a = Aio.RunInExecutor(pool, PoolWork.Add, 2, 3);
            var b = Aio.RunInExecutor(pool, PoolWork.Add, 4, 5);
            var c = Aio.RunInExecutor(pool, PoolWork.Add, 6, 7);
            var ex = await Assert.ThrowsAsync<RemoteException>(async () => await Aio.RunInExecutor(pool, PoolWork.Fail, "on the loop"));
            Assert.Equal("on the loop", ex.RemoteMessage);
            Assert.Throws<ArgumentException>(() => { _ = Aio.RunInExecutor(pool, () => 1); });
            return [await a, await b, await c];
        }
    }
}
