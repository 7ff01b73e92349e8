using System.Diagnostics;

namespace Kettle;

/// <summary>
/// A bounded pool of dedicated worker threads for blocking calls. The loop's default executor is one of these.
/// asyncio counterpart: <c>concurrent.futures.ThreadPoolExecutor</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Threads start on demand, up to <see cref="MaxWorkers"/> (default min(32, cores + 4), as Python's), and
/// are reused: a new one starts only when no idle thread can take the work.</item>
/// <item>Work runs in FIFO order. Work cancelled before it starts never runs; running work is never interrupted
/// (a thread cannot be stopped safely), so cancelling it only stops the waiting.</item>
/// <item>They are dedicated threads, not the .NET thread pool: blocking calls here cannot starve the thread pool
/// that sockets and timers depend on.</item>
/// </list>
/// <para>Threading: any thread.</para>
/// </remarks>
[DebuggerDisplay("ThreadPoolExecutor threads={threads} idle={idle} queued={queue.Count}")]
public sealed class ThreadPoolExecutor : Executor
{
    private readonly Queue<ExecutorWork> queue = new();
    private readonly List<Thread> allThreads = new();
    private readonly string namePrefix;
    private int threads;
    private int idle;
    private bool shutdown;

    /// <summary>Creates a pool of at most <paramref name="maxWorkers"/> threads named "<paramref name="threadNamePrefix"/>_N".</summary>
    public ThreadPoolExecutor(int? maxWorkers = null, string threadNamePrefix = "kettle-worker")
    {
        if (maxWorkers is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxWorkers), maxWorkers, "max_workers must be greater than 0.");
        }
        MaxWorkers = maxWorkers ?? Math.Min(32, Environment.ProcessorCount + 4);
        namePrefix = threadNamePrefix ?? throw new ArgumentNullException(nameof(threadNamePrefix));
    }

    /// <summary>The most threads the pool runs at once.</summary>
    public int MaxWorkers { get; }

    /// <inheritdoc/>
    public override bool IsShutdown
    {
        get
        {
            lock (queue)
            {
                return shutdown;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="function"/> on a pool thread and returns a .NET task for its result, for use outside
    /// a loop. asyncio counterpart: <c>executor.submit(fn)</c>. On the loop, prefer <see cref="Aio.RunInExecutor{TResult}(Executor?, Func{TResult})"/>.
    /// </summary>
    public Task<TResult> Submit<TResult>(Func<TResult> function)
    {
        ArgumentNullException.ThrowIfNull(function);
        var work = new TaskWork<TResult>(function);
        Submit(work);
        return work.Task;
    }

    internal override void Submit(ExecutorWork work)
    {
        lock (queue)
        {
            if (shutdown)
            {
                throw new InvalidOperationException("Cannot schedule new work after the executor was shut down.");
            }
            queue.Enqueue(work);
            if (idle > 0)
            {
                Monitor.Pulse(queue);
                return;
            }
            if (threads >= MaxWorkers)
            {
                return;
            }
            threads++;
            var t = new Thread(WorkerLoop) { IsBackground = true, Name = $"{namePrefix}_{threads - 1}" };
            allThreads.Add(t);
            t.Start();
        }
    }

    private void WorkerLoop()
    {
        while (true)
        {
            ExecutorWork work;
            lock (queue)
            {
                while (queue.Count == 0)
                {
                    if (shutdown)
                    {
                        return;
                    }
                    idle++;
                    Monitor.Wait(queue);
                    idle--;
                }
                work = queue.Dequeue();
            }
            if (work.TryStart())
            {
                work.RunHere();
            }
        }
    }

    /// <inheritdoc/>
    public override void Shutdown(bool wait = true, bool cancelPending = false)
    {
        Thread[] toJoin;
        List<ExecutorWork>? cancelled = null;
        lock (queue)
        {
            shutdown = true;
            if (cancelPending)
            {
                cancelled = new List<ExecutorWork>(queue);
                queue.Clear();
            }
            Monitor.PulseAll(queue);
            toJoin = allThreads.ToArray();
        }
        if (cancelled is not null)
        {
            foreach (var w in cancelled)
            {
                w.TryCancelQueued();
            }
        }
        if (wait)
        {
            foreach (var t in toJoin)
            {
                if (t != Thread.CurrentThread)
                {
                    t.Join();
                }
            }
        }
    }

    /// <summary>Work submitted from outside a loop: completes a .NET task.</summary>
    private sealed class TaskWork<TResult> : ExecutorWork
    {
        private readonly TaskCompletionSource<TResult> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ExecutionContext? context = ExecutionContext.Capture();

        public TaskWork(Func<TResult> function)
            : base(function, [])
        {
        }

        public Task<TResult> Task => tcs.Task;

        public override Type ResultType => typeof(TResult);

        public override void RunHere() => LoopWork<TResult>.Invoke(this, context, (Func<TResult>)Function);

        protected override void OnCompleted(object? result, Exception? exception)
        {
            if (exception is null)
            {
                tcs.TrySetResult((TResult)result!);
            }
            else
            {
                tcs.TrySetException(exception);
            }
        }

        protected override void OnCancelled() => tcs.TrySetCanceled();
    }
}
