using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Kettle;

/// <summary>
/// A pool of worker processes for CPU-bound or crash-prone functions, which run outside this process (and outside
/// its GC and its thread pool). asyncio counterpart: <c>concurrent.futures.ProcessPoolExecutor</c>, used with
/// <c>loop.run_in_executor</c> (<see cref="Aio.RunInExecutor{T1, TResult}(Executor?, Func{T1, TResult}, T1)"/>) or
/// directly (<see cref="Submit{T1, TResult}(Func{T1, TResult}, T1)"/>).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>What is sent: a call to a <b>public static method of a public class</b> and its arguments, as
/// System.Text.Json of the method's declared parameter types; the result comes back as JSON of the declared return
/// type. Lambdas, closures, instance methods, non-public or generic methods, and types JSON cannot carry are refused
/// at submission with an <see cref="ArgumentException"/> saying why.</item>
/// <item>Workers are started from the application's own build (<c>dotnet exec</c> of the entry assembly, Kettle
/// taking over through a startup hook before <c>Main</c>), on demand up to <see cref="MaxWorkers"/>, and reused: the
/// start-up cost is paid once per worker. What the called code writes to the console goes to the worker's
/// standard error, which is this process's.</item>
/// <item>Faults: an exception in the function comes back as a <see cref="RemoteException"/>. A worker that dies
/// fails the call it was running with a <see cref="WorkerProcessException"/> and is replaced; every submitted call
/// completes, fails or is cancelled. Cancelling a running call kills its worker; a queued call is just removed.</item>
/// <item>No worker outlives the pool: a worker exits when its stdin closes, which happens when the pool retires it
/// and when this process dies, however it dies.</item>
/// </list>
/// <para>Threading: any thread. Each worker is driven by a dedicated background thread of the pool.</para>
/// </remarks>
[DebuggerDisplay("ProcessPoolExecutor workers={live.Count} queued={queue.Count}")]
public sealed class ProcessPoolExecutor : Executor
{
    /// <summary>Where the calls run, for the error if something tries to run one here.</summary>
    private const string RunsIn = "a worker process";

    /// <summary>How long a worker whose output ended may take to exit with its own status before it is killed.</summary>
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(10);

    private readonly object gate = new();
    private readonly Queue<PendingCall> queue = new();
    private readonly List<Thread> slots = new();
    private readonly Dictionary<int, WorkerProcess> live = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<int?>> exits = new();
    private readonly WorkerLauncher launcher;
    private readonly ProcessCall? initializer;
    private readonly JsonElement[] initializerArguments = [];
    private int idle;
    private bool shutdown;
    private WorkerProcessException? broken;
    private long nextCallId;

    /// <summary>Creates a pool of at most <paramref name="maxWorkers"/> worker processes (default: the number of cores).</summary>
    public ProcessPoolExecutor(int? maxWorkers = null)
        : this(new ProcessPoolOptions { MaxWorkers = maxWorkers })
    {
    }

    /// <summary>Creates a pool with <paramref name="options"/>; no process starts until work arrives.</summary>
    /// <exception cref="ArgumentException">The initializer or its arguments cannot be sent to a worker.</exception>
    /// <exception cref="InvalidOperationException">There is no build to start workers from.</exception>
    public ProcessPoolExecutor(ProcessPoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (ProcessWorker.IsWorkerProcess)
        {
            // Kettle's startup hook consumes this variable: seeing it here means the hook did not run, and this
            // worker is running the application's Main. Starting workers from here would never end.
            throw new InvalidOperationException(
                "This process was started as a process pool worker, but Kettle's startup hook did not run (startup hooks are disabled?), " +
                "so the application's Main ran instead. Workers do not start pools of their own this way.");
        }
        if (options.MaxWorkers is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxWorkers, "max_workers must be greater than 0.");
        }
        if (options.MaxTasksPerChild is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxTasksPerChild, "max_tasks_per_child must be greater than 0.");
        }
        MaxWorkers = options.MaxWorkers ?? Environment.ProcessorCount;
        MaxTasksPerChild = options.MaxTasksPerChild;
        if (options.Initializer is { } init)
        {
            initializer = ProcessCall.For(init, null, nameof(options));
            initializerArguments = initializer.SerializeArguments(options.InitializerArguments ?? [], nameof(options));
        }
        launcher = WorkerLauncher.Find(options.WorkerAssembly);
        launcher.EnsureStartupHooks();
    }

    /// <summary>The most worker processes the pool runs at once.</summary>
    public int MaxWorkers { get; }

    /// <summary>How many calls a worker runs before it is replaced, or null for no limit.</summary>
    public int? MaxTasksPerChild { get; }

    /// <inheritdoc/>
    public override bool IsShutdown
    {
        get
        {
            lock (gate)
            {
                return shutdown;
            }
        }
    }

    /// <summary>The process ids of the workers alive now (for tests).</summary>
    internal int[] WorkerProcessIds
    {
        get
        {
            lock (gate)
            {
                return live.Keys.ToArray();
            }
        }
    }

    /// <summary>Calls waiting for a worker (for tests).</summary>
    internal int QueuedCount
    {
        get
        {
            lock (gate)
            {
                return queue.Count;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="function"/> (a public static method) in a worker process and returns a .NET task for its
    /// result, for use outside a loop. asyncio counterpart: <c>executor.submit(fn)</c>. On a loop, prefer
    /// <see cref="Aio.RunInExecutor{TResult}(Executor?, Func{TResult})"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The call cannot be sent to a worker process (the message says why).</exception>
    /// <exception cref="InvalidOperationException">The pool was shut down, or is broken (its initializer failed).</exception>
    public Task<TResult> Submit<TResult>(Func<TResult> function) => SentTaskWork<TResult>.Submit(this, function, [], RunsIn);

    /// <summary>As <see cref="Submit{TResult}(Func{TResult})"/> with one argument (Python: <c>submit(fn, arg)</c>).</summary>
    public Task<TResult> Submit<T1, TResult>(Func<T1, TResult> function, T1 arg1) => SentTaskWork<TResult>.Submit(this, function, [arg1], RunsIn);

    /// <summary>As <see cref="Submit{TResult}(Func{TResult})"/> with two arguments.</summary>
    public Task<TResult> Submit<T1, T2, TResult>(Func<T1, T2, TResult> function, T1 arg1, T2 arg2) =>
        SentTaskWork<TResult>.Submit(this, function, [arg1, arg2], RunsIn);

    /// <summary>As <see cref="Submit{TResult}(Func{TResult})"/> with three arguments.</summary>
    public Task<TResult> Submit<T1, T2, T3, TResult>(Func<T1, T2, T3, TResult> function, T1 arg1, T2 arg2, T3 arg3) =>
        SentTaskWork<TResult>.Submit(this, function, [arg1, arg2, arg3], RunsIn);

    internal override bool SendsArguments => true;

    /// <inheritdoc/>
    internal override void Submit(ExecutorWork work)
    {
        // Everything that can be wrong with the call is found here, before anything is queued.
        var call = ProcessCall.For(work.Function, work.ResultType, "function");
        var args = call.SerializeArguments(work.Arguments, "function");
        lock (gate)
        {
            if (shutdown)
            {
                throw new InvalidOperationException("Cannot schedule new work after the process pool was shut down.");
            }
            if (broken is not null)
            {
                throw new InvalidOperationException("The process pool is broken: " + broken.Message, broken);
            }
            queue.Enqueue(new PendingCall(work, call, args));
            if (idle > 0)
            {
                Monitor.Pulse(gate);
                return;
            }
            if (slots.Count >= MaxWorkers)
            {
                return;
            }
            var thread = new Thread(SlotMain) { IsBackground = true, Name = $"kettle-process-pool_{slots.Count}" };
            slots.Add(thread);
            thread.Start();
        }
    }

    /// <inheritdoc/>
    public override void Shutdown(bool wait = true, bool cancelPending = false)
    {
        Thread[] threads;
        List<ExecutorWork>? cancelled = null;
        lock (gate)
        {
            shutdown = true;
            if (cancelPending)
            {
                cancelled = QueuedCalls.TakeAll(queue, c => c.Work);
            }
            Monitor.PulseAll(gate);
            threads = slots.ToArray();
        }
        QueuedCalls.CancelAll(cancelled);
        if (!wait)
        {
            return;
        }
        foreach (var t in threads)
        {
            if (t != Thread.CurrentThread)
            {
                t.Join();
            }
        }
        // Every slot retired its worker on the way out; kill anything left behind.
        WorkerProcess[] left;
        lock (gate)
        {
            left = live.Values.ToArray();
        }
        foreach (var w in left)
        {
            w.Kill();
        }
        launcher.Cleanup();
    }

    /// <summary>Completes when worker <paramref name="pid"/> has exited, with its exit code (for tests).</summary>
    internal Task<int?> WhenWorkerExited(int pid) =>
        exits.GetOrAdd(pid, _ => new TaskCompletionSource<int?>(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Closes a worker's stdin as a dying parent would (for tests).</summary>
    internal void CloseWorkerInput(int pid)
    {
        lock (gate)
        {
            if (live.TryGetValue(pid, out var w))
            {
                w.CloseInput();
            }
        }
    }

    /// <summary>One slot: a thread that owns at most one worker process at a time and feeds it calls.</summary>
    private void SlotMain()
    {
        WorkerProcess? worker = null;
        try
        {
            while (true)
            {
                PendingCall? next = null;
                lock (gate)
                {
                    while (queue.Count == 0 && !shutdown && broken is null)
                    {
                        idle++;
                        Monitor.Wait(gate);
                        idle--;
                    }
                    if (queue.Count == 0 || broken is not null)
                    {
                        return;
                    }
                    if (worker is not null)
                    {
                        next = queue.Dequeue();
                    }
                }
                if (next is null)
                {
                    // Start the worker before taking a call, so a call is "running" only once a worker has it.
                    worker = StartWorker();
                    if (worker is null)
                    {
                        return;
                    }
                    continue;
                }
                if (next.Work.TryStart())
                {
                    worker = RunCall(worker!, next);
                }
            }
        }
        finally
        {
            if (worker is not null)
            {
                Retire(worker);
            }
        }
    }

    /// <summary>Starts a worker and runs its initializer; on failure the pool is broken and null is returned.</summary>
    private WorkerProcess? StartWorker()
    {
        WorkerProcess worker;
        try
        {
            worker = WorkerProcess.Start(launcher);
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException or InvalidOperationException)
        {
            Break(new WorkerProcessException(
                $"A worker process could not be started ({launcher.Host} exec {launcher.Entry}): {ex.Message}. The pool is broken: pending and later calls fail.",
                0,
                null,
                null,
                ex));
            return null;
        }
        lock (gate)
        {
            live[worker.Pid] = worker;
        }
        WhenWorkerExited(worker.Pid);
        WorkerReply? reply = null;
        Exception? channelError = null;
        try
        {
            worker.Send(new WorkerRequest
            {
                Kind = WorkerRequest.KindStart,
                Assembly = initializer?.AssemblyName,
                Mvid = initializer?.ModuleVersionId ?? Guid.Empty,
                Token = initializer?.MetadataToken ?? 0,
                Name = initializer?.DisplayName,
                Args = initializerArguments,
            });
            reply = worker.Receive();
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or JsonException or ObjectDisposedException)
        {
            channelError = ex;
        }
        if (reply is { Ok: true })
        {
            return worker;
        }
        if (channelError is InvalidDataException or JsonException)
        {
            worker.Kill();
        }
        worker.CloseInput();
        int? code = Bury(worker);
        Break(reply is { Error: { } error }
            ? new WorkerProcessException(
                $"The initializer {initializer?.DisplayName} raised {error.Type}: {error.Message} in worker process {worker.Pid}. " +
                "The pool is broken (Python: BrokenProcessPool): pending and later calls fail.",
                worker.Pid,
                code,
                initializer?.DisplayName,
                error.ToException())
            : new WorkerProcessException(
                $"Worker process {worker.Pid} ended before it was ready ({WorkerProcessException.DescribeExit(code)}); see its standard error. " +
                $"It was started as: {launcher.Host} exec {launcher.Entry}. The pool is broken: pending and later calls fail.",
                worker.Pid,
                code,
                null,
                channelError));
        return null;
    }

    /// <summary>Runs one call on <paramref name="worker"/>; returns the worker to keep using, or null if it is gone.</summary>
    private WorkerProcess? RunCall(WorkerProcess worker, PendingCall pending)
    {
        var work = pending.Work;
        var call = pending.Call;
        if (work.IsCancelRequested)
        {
            // Cancelled between being taken from the queue and being sent: nobody waits for it, no worker dies for it.
            work.Fail(new OperationCanceledException($"The call to {call.DisplayName} was cancelled before it was sent."));
            return worker;
        }
        long id = Interlocked.Increment(ref nextCallId);
        var request = new WorkerRequest
        {
            Id = id,
            Kind = WorkerRequest.KindCall,
            Assembly = call.AssemblyName,
            Mvid = call.ModuleVersionId,
            Token = call.MetadataToken,
            Name = call.DisplayName,
            Args = pending.Args,
        };
        for (int attempt = 0; ; attempt++)
        {
            var current = worker;
            current.BeginCall(id);
            Action cancel = () => current.KillForCancel(id);
            work.SetRunningCancelHandler(cancel);
            bool sent = false;
            WorkerReply? reply = null;
            Exception? channelError = null;
            try
            {
                current.Send(request);
                sent = true;
                reply = current.Receive();
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or JsonException or ObjectDisposedException)
            {
                channelError = ex;
            }
            work.ClearRunningCancelHandler(cancel);
            current.EndCall();

            if (reply is not null && reply.Id == id)
            {
                Finish(work, call, reply);
                current.TasksDone++;
                if (MaxTasksPerChild is { } max && current.TasksDone >= max)
                {
                    Retire(current);
                    return null;
                }
                return current;
            }

            // The worker died (its output ended), or the channel broke.
            bool corrupted = reply is not null || channelError is InvalidDataException or JsonException;
            if (corrupted)
            {
                current.Kill();
            }
            int? code = Bury(current);
            if (!sent && attempt == 0 && !work.IsCancelRequested && !current.KilledForCancel)
            {
                // It died between calls and this one never reached it: send it to a new worker.
                var fresh = StartWorker();
                if (fresh is null)
                {
                    work.Fail(CopyOfBroken());
                    return null;
                }
                worker = fresh;
                continue;
            }
            string message = current.KilledForCancel
                ? $"Worker process {current.Pid} was killed because the call to {call.DisplayName} was cancelled ({WorkerProcessException.DescribeExit(code)})."
                : corrupted
                    ? $"Worker process {current.Pid} broke the protocol while running {call.DisplayName} ({channelError?.Message ?? "a reply to another call"}); it was killed and replaced."
                    : $"Worker process {current.Pid} died while running {call.DisplayName} ({WorkerProcessException.DescribeExit(code)}); the call did not complete. The pool replaces the worker.";
            work.Fail(new WorkerProcessException(message, current.Pid, code, call.DisplayName, channelError));
            return null;
        }
    }

    private static void Finish(ExecutorWork work, ProcessCall call, WorkerReply reply)
    {
        if (!reply.Ok)
        {
            work.Complete(null, reply.Error?.ToException() ?? new RemoteException(null, $"{call.DisplayName} failed in worker process {reply.ProcessId}.", null, null));
            return;
        }
        object? value;
        try
        {
            value = call.ReadResult(reply.Result, work.ResultType);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidDataException or InvalidCastException)
        {
            work.Complete(null, new InvalidOperationException($"The result of {call.DisplayName} could not be read as {call.ReturnType}: {ex.Message}", ex));
            return;
        }
        work.Complete(value, null);
    }

    /// <summary>Lets an idle worker go (its stdin closes, it exits) and waits for it.</summary>
    private void Retire(WorkerProcess worker)
    {
        worker.CloseInput();
        Bury(worker);
    }

    /// <summary>Waits for a worker that is ending, forgets it, and returns its exit code.</summary>
    private int? Bury(WorkerProcess worker)
    {
        int? code = worker.WaitForExit(ExitGrace);
        lock (gate)
        {
            live.Remove(worker.Pid);
        }
        WhenWorkerExited(worker.Pid);
        exits[worker.Pid].TrySetResult(code);
        worker.Dispose();
        return code;
    }

    /// <summary>Marks the pool broken (as Python's BrokenProcessPool) and fails everything queued.</summary>
    private void Break(WorkerProcessException reason)
    {
        List<ExecutorWork> failed;
        lock (gate)
        {
            broken ??= reason;
            failed = QueuedCalls.TakeAll(queue, c => c.Work);
            Monitor.PulseAll(gate);
        }
        foreach (var w in failed)
        {
            w.Fail(CopyOfBroken());
        }
    }

    private WorkerProcessException CopyOfBroken()
    {
        WorkerProcessException b;
        lock (gate)
        {
            b = broken!;
        }
        return new WorkerProcessException(b.Message, b.ProcessId, b.ExitCode, b.MethodName, b.InnerException);
    }

    private sealed record PendingCall(ExecutorWork Work, ProcessCall Call, JsonElement[] Args);
}
