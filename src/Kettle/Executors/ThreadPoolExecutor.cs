using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

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
[DebuggerDisplay("ThreadPoolExecutor threads={threads} searching={searching} sleeping={sleepers} queued={queued}")]
public sealed class ThreadPoolExecutor : Executor
{
    // Hand-off, built so that a busy pool costs no system call per call (see docs/performance.md, "to_thread"):
    // a worker that runs out of work first spins briefly ("searching") and only then sleeps on the gate; a
    // submission wakes a sleeper (one lock and pulse) only when no worker is searching.
    // The queue is a FIFO list through the items themselves (no node or array per call), under its own short lock;
    // its length is readable without the lock. Shutdown is set under that lock too, so once a worker sees it set,
    // nothing more can be queued. The gate guards the thread list, the sleepers and their wake-ups.
    private readonly object queueLock = new();
    private IThreadWork? head;
    private IThreadWork? tail;
    private int queued;
    private volatile bool shutdown;

    private readonly object gate = new();
    private readonly List<Thread> allThreads = new();
    private readonly string namePrefix;
    private int threads;
    // Workers awake without a call: they will look at the queue again before sleeping. Changed with Interlocked.
    private int searching;
    // Changed under the gate (sleepers also read without it): workers asleep, and wake-ups handed to them (a woken
    // worker counts as searching at once, so the submissions that follow do not wake a second one for the same call).
    private int sleepers;
    private int wakeTickets;

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
    public override bool IsShutdown => shutdown;

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

    internal override void Submit(ExecutorWork work) => Submit((IThreadWork)work);

    /// <summary>Queues a call; throws <see cref="InvalidOperationException"/> after shutdown.</summary>
    /// <remarks>This and the workers' paths are compiled optimized at first call: a burst of calls is over before
    /// tiered compilation would replace their unoptimized code (docs/performance.md, "Warm-up").</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Submit(IThreadWork work)
    {
        lock (queueLock)
        {
            if (shutdown)
            {
                throw new InvalidOperationException("Cannot schedule new work after the executor was shut down.");
            }
            work.NextQueued = null;
            if (tail is null)
            {
                head = work;
            }
            else
            {
                tail.NextQueued = work;
            }
            tail = work;
            Volatile.Write(ref queued, queued + 1);
        }
        // Dekker with a worker that takes a call and then looks for more (WorkerLoop): either it sees this one, or
        // this sees that nobody is searching and brings a worker.
        Interlocked.MemoryBarrier();
        // Nobody searching: wake a sleeper or start a thread. Both counts are read without the gate; sleepers is
        // Dekker-safe as well (a worker counts itself asleep, then looks at the queue one last time).
        if (Volatile.Read(ref searching) == 0 && (Volatile.Read(ref sleepers) > 0 || Volatile.Read(ref threads) < MaxWorkers))
        {
            lock (gate)
            {
                if (Volatile.Read(ref searching) == 0)
                {
                    BringWorkerLocked();
                }
            }
        }
    }

    private bool QueueIsEmpty
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => Volatile.Read(ref queued) == 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryDequeue([NotNullWhen(true)] out IThreadWork? work)
    {
        if (QueueIsEmpty)
        {
            work = null;
            return false;
        }
        lock (queueLock)
        {
            work = head;
            if (work is null)
            {
                return false;
            }
            head = work.NextQueued;
            if (head is null)
            {
                tail = null;
            }
            work.NextQueued = null;
            Volatile.Write(ref queued, queued - 1);
            return true;
        }
    }

    /// <summary>Under the gate: wakes a sleeping worker, else starts a thread if the bound allows.</summary>
    private void BringWorkerLocked()
    {
        if (sleepers > 0)
        {
            Interlocked.Decrement(ref sleepers);
            wakeTickets++;
            Interlocked.Increment(ref searching);
            Monitor.Pulse(gate);
            return;
        }
        if (threads >= MaxWorkers || shutdown)
        {
            return;
        }
        Volatile.Write(ref threads, threads + 1);
        Interlocked.Increment(ref searching);
        var t = new Thread(WorkerLoop) { IsBackground = true, Name = $"{namePrefix}_{threads - 1}" };
        allThreads.Add(t);
        t.Start();
    }

    /// <summary>
    /// A worker is about to run a call: if more are queued and nobody is searching, bring another worker (up to
    /// MaxWorkers), so that calls queued behind a long one do not wait for it. Dekker with Submit: the worker
    /// stopped searching (an interlocked step) before it reads the queue; Submit queued before it reads searching.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void BringHelperIfNeeded()
    {
        if (!QueueIsEmpty && Volatile.Read(ref searching) == 0
            && (Volatile.Read(ref sleepers) > 0 || Volatile.Read(ref threads) < MaxWorkers))
        {
            lock (gate)
            {
                if (Volatile.Read(ref searching) == 0 && !QueueIsEmpty)
                {
                    BringWorkerLocked();
                }
            }
        }
    }

    // Tries before a worker without work goes to sleep: enough to bridge the gap between two calls of a burst
    // (a wake-up costs a system call on each side), short enough not to hold a core when the pool is idle.
    private const int SearchSpins = 20;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WorkerLoop()
    {
        // Started as searching (by BringWorkerLocked).
        while (true)
        {
            if (TryDequeue(out var work))
            {
                // Busy from here, and across the calls it finds queued after this one: no counter traffic per call.
                Interlocked.Decrement(ref searching);
                do
                {
                    BringHelperIfNeeded();
                    work.Execute();
                }
                while (TryDequeue(out work));
                Interlocked.Increment(ref searching);
                continue;
            }
            // One searcher spins; the others sleep at once: on a machine with few cores, spinning workers would take
            // the core the loop needs to submit the next calls.
            var spin = default(SpinWait);
            for (int i = 0; i < SearchSpins && QueueIsEmpty && Volatile.Read(ref searching) == 1; i++)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
            if (!QueueIsEmpty)
            {
                continue;
            }
            lock (gate)
            {
                // No longer searching and asleep, then a last look (Dekker with Submit: it queues, then reads both).
                Interlocked.Decrement(ref searching);
                Interlocked.Increment(ref sleepers);
                // Shutdown first: once it is seen set, nothing more can be queued, so an empty queue stays empty.
                if (shutdown && QueueIsEmpty)
                {
                    Interlocked.Decrement(ref sleepers);
                    return;
                }
                if (!QueueIsEmpty)
                {
                    Interlocked.Decrement(ref sleepers);
                    Interlocked.Increment(ref searching);
                    continue;
                }
                while (wakeTickets == 0 && !shutdown)
                {
                    Monitor.Wait(gate);
                }
                if (wakeTickets > 0)
                {
                    wakeTickets--; // the waker counted this thread as searching already
                }
                else
                {
                    Interlocked.Decrement(ref sleepers); // shutdown: drain what is queued, then leave
                    Interlocked.Increment(ref searching);
                }
            }
        }
    }

    /// <inheritdoc/>
    public override void Shutdown(bool wait = true, bool cancelPending = false)
    {
        Thread[] toJoin;
        List<IThreadWork>? cancelled = null;
        lock (queueLock)
        {
            shutdown = true;
            if (cancelPending)
            {
                cancelled = new List<IThreadWork>(queued);
                for (var w = head; w is not null; w = w.NextQueued)
                {
                    cancelled.Add(w);
                }
                head = tail = null;
                Volatile.Write(ref queued, 0);
            }
        }
        lock (gate)
        {
            Monitor.PulseAll(gate);
            toJoin = allThreads.ToArray();
        }
        if (cancelled is not null)
        {
            foreach (var w in cancelled)
            {
                w.CancelQueued();
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
    private sealed class TaskWork<TResult> : TaskCompletionWork<TResult>
    {
        private readonly ExecutionContext? context = ExecutionContext.Capture();

        public TaskWork(Func<TResult> function)
            : base(function, [])
        {
        }

        public override void RunHere() => LoopWork<TResult>.Invoke(this, context, (Func<TResult>)Function);
    }
}
