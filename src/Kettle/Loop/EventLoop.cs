using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Kettle;

/// <summary>
/// A single-threaded, cooperative event loop: a FIFO ready queue, a timer heap and a thread-safe
/// inbox (and a second one for executor results). asyncio counterpart: <c>asyncio.AbstractEventLoop</c> (the default selector loop).
/// </summary>
/// <remarks>
/// <para>Threading: one loop per thread. Every member belongs to the loop thread except
/// <see cref="CallSoonThreadsafe(Action)"/>, <see cref="RunCoroutineThreadsafe{T}(Coroutine{T}, CancellationToken)"/>,
/// <see cref="Time"/>, <see cref="IsRunning"/> and <see cref="IsClosed"/>, which any thread may call.
/// A loop-thread member called from another thread throws <see cref="InvalidOperationException"/>
/// naming both threads, rather than corrupting the loop.</para>
/// <para>Scheduling, as asyncio's <c>_run_once</c>: each iteration first moves due timers into the
/// ready queue, in deadline order, then runs exactly the items that were ready when the iteration
/// began; anything they schedule runs in the next iteration, so nothing starves.</para>
/// <para>While the loop runs, its thread's <see cref="SynchronizationContext"/> is the loop's, so an
/// <c>await</c> of any .NET awaitable inside the loop resumes on the loop thread.</para>
/// </remarks>
[DebuggerDisplay("EventLoop running={IsRunning} ready={Ready.Count} timers={Timers.Count}")]
public sealed partial class EventLoop : IDisposable
{
    [ThreadStatic]
    private static EventLoop? running;

    internal readonly ReadyQueue Ready = new();
    internal readonly TimerQueue Timers = new();

    // The thread-safe inbox: other threads add without a lock; the loop moves what is there into the ready queue
    // at the start of each iteration. The gate is taken only to sleep and to wake the loop.
    private readonly object gate = new();
    private readonly ConcurrentQueue<IReadyItem> inbox = new();
    private const int Awake = 0;
    private const int Sleeping = 1;
    private const int Woken = 2;
    // Awake → Sleeping (the loop, under the gate, before it waits) → Woken (the first poster that sees it asleep;
    // only that one takes the gate to pulse) → Awake (the loop, once it runs again). See WaitForInbox.
    private int sleepState;

    // Executor calls coming back (IPostedItem): a second inbox, a FIFO list through the calls themselves, so a
    // result costs no queue node or segment. A poster swaps itself in as the tail, then links the previous tail to
    // itself (wait-free; between the two steps the calls after it stay out of sight, as not posted yet). The loop
    // keeps the last item it took (at first a placeholder) as the list's head and takes what follows; that item
    // stays referenced until the next one comes. Head: loop thread only.
    private IPostedItem postedHead;
    private IPostedItem postedTail;

    // 1 once something was put in either inbox since the loop last looked: posters set it after adding; the loop
    // swaps it to 0 (a full fence) before it drains. Each loop iteration reads this one field instead of looking
    // into both inboxes. Any thread writes 1; the loop writes 0 (and 1 when it leaves items behind).
    private int inboxSignal;

    /// <summary>How the loop sleeps and is woken; on Linux also its epoll selector for sockets (see LoopSelector).</summary>
    internal readonly LoopSelector Selector;

    private readonly TimeProvider clock;
    private readonly VirtualClock? virtualClock;
    private readonly long origin;

    private readonly LoopSynchronizationContext syncContext;
    private LoopTaskScheduler? taskScheduler;
    private readonly ILogger logger;
    private Action<EventLoop, LoopExceptionContext>? exceptionHandler;

    private int threadId;

    /// <summary>The managed id of the thread running the loop (0 before it first runs).</summary>
    internal int ManagedThreadId => threadId;
    private static int loopCounter;

    /// <summary>A process-wide number for this loop (the "kettle.loop" tag of metrics).</summary>
    internal readonly int Number = Interlocked.Increment(ref loopCounter);

    // Loop lag sampling (only while the kettle.loop.lag histogram has a listener).
    private long lagBatchStart;

    // For introspection from another thread (kettle ps / pstree / top); written on the loop thread only, read racily.
    /// <summary>Iterations run so far: a snapshot taken while it did not change saw one consistent moment.</summary>
    internal long iterations;
    /// <summary>Whether a batch of ready items is running (false while the loop waits or is idle).</summary>
    internal bool inBatch;
    /// <summary>Stopwatch timestamp at which the running batch began, recorded only once <see cref="TimeBatches"/> is
    /// on (a clock read per iteration is measurable: see docs/debugging.md); 0 otherwise.</summary>
    internal long batchStartedAt;
    /// <summary>Turned on (for good) by the first introspection request of the process, so that later ones can say
    /// how long the running step has held the loop. Any thread sets it; loops read it once per iteration.</summary>
    internal static bool TimeBatches;
    /// <summary>Debug mode only: when the running step began, and the frame it resumed (0 / null otherwise).</summary>
    internal long stepStartedAt;
    internal AioTask? stepFrame;
    /// <summary>The operating system's id of the loop thread, recorded when the loop starts (0 if unknown).</summary>
    internal int osThreadId;
    /// <summary>The last steps that ran long (debug mode, or while kettle.steps.slow is listened to).</summary>
    internal readonly RecentSlowSteps SlowSteps = new();
    private long lagCarriedSince;
    private string? loopThreadName;
    private volatile bool isRunning;
    private volatile bool closed;
    private bool stopping;
    private Func<bool>? stopWhen;

    // RunUntilDone's task: checked after every iteration without a delegate call (the common stop condition).
    private AioTask? stopWhenDone;

    /// <summary>Tasks waiting on something outside the loop (a thread, a socket): virtual time does not jump
    /// while one does, since its completion may arrive at any real moment. Loop thread only.</summary>
    internal int externalPending;

    /// <summary>Executor work submitted from this loop and not yet back: like <see cref="externalPending"/>,
    /// virtual time does not jump while some is in flight (up to the clock's ExternalWaitLimit). Loop thread only.</summary>
    internal int executorPending;

    /// <summary>Creates a loop. Most programs let <see cref="Aio.Run{T}(Coroutine{T}, RunOptions?)"/> or a
    /// <see cref="Runner"/> make one. asyncio counterpart: <c>asyncio.new_event_loop()</c>.</summary>
    public EventLoop(RunOptions? options = null)
    {
        options ??= RunOptions.Default;
        clock = options.TimeProvider ?? TimeProvider.System;
        virtualClock = clock as VirtualClock;
        origin = clock.GetTimestamp();
        syncContext = new LoopSynchronizationContext(this);
        postedHead = postedTail = new PostedPlaceholder();
        Selector = new LoopSelector(gate, options);
        var factory = options.LoggerFactory ?? Aio.DefaultLoggerFactory;
        logger = factory?.CreateLogger("Kettle") ?? StderrLogger.Instance;
        Debug = options.Debug ?? DebugFromEnvironment();
        SlowCallbackDuration = options.SlowCallbackDuration;
    }

    /// <summary>Whether debug mode is on (see docs/debugging.md). Defaults to the KETTLE_DEBUG environment variable.</summary>
    public bool Debug { [MethodImpl(MethodImplOptions.AggressiveOptimization)] get; set; }

    /// <summary>In debug mode, a step or callback that holds the loop this long is logged. Default 100 ms.</summary>
    public TimeSpan SlowCallbackDuration { get; set; }

    /// <summary>The logger the default exception handler writes to (category "Kettle").</summary>
    public ILogger Logger => logger;

    /// <summary>The loop running on the calling thread, or null.</summary>
    internal static EventLoop? RunningOnThisThread
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => running;
    }

    /// <summary>Whether the loop is running (any thread).</summary>
    public bool IsRunning => isRunning;

    /// <summary>Whether <see cref="Close"/> has been called (any thread).</summary>
    public bool IsClosed => closed;

    /// <summary>The clock the loop reads; a <see cref="VirtualClock"/> when virtual time is on.</summary>
    public TimeProvider TimeProvider => clock;

    /// <summary>The loop's monotonic time in seconds since the loop was created (virtual time: the
    /// virtual clock's reading). asyncio counterpart: <c>loop.time()</c>.</summary>
    public double Time => TicksToSeconds(Now);

    /// <summary>The loop's synchronization context: it posts continuations onto this loop.</summary>
    public SynchronizationContext SynchronizationContext => syncContext;

    /// <summary>A <see cref="System.Threading.Tasks.TaskScheduler"/> that runs tasks on this loop,
    /// for <c>Task.Factory.StartNew</c> and APIs that take a scheduler.</summary>
    public TaskScheduler TaskScheduler => taskScheduler ??= new LoopTaskScheduler(this);

    internal long Now => virtualClock is { } v ? v.Ticks : clock.GetElapsedTime(origin).Ticks;

    internal static double TicksToSeconds(long ticks) => ticks / (double)TimeSpan.TicksPerSecond;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static long SecondsToTicks(double seconds)
    {
        if (double.IsNaN(seconds))
        {
            throw new ArgumentException("A delay or time cannot be NaN.", nameof(seconds));
        }
        var t = seconds * TimeSpan.TicksPerSecond;
        return t >= long.MaxValue / 2 ? long.MaxValue / 2 : t <= long.MinValue / 2 ? long.MinValue / 2 : (long)t;
    }

    internal bool IsOnLoopThread => Environment.CurrentManagedThreadId == threadId && isRunning;

    /// <summary>Throws unless the caller is on this loop's thread while it runs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void CheckThread(string operation)
    {
        if (Environment.CurrentManagedThreadId != threadId || !isRunning)
        {
            ThrowWrongThread(operation);
        }
    }

    private void ThrowWrongThread(string operation)
    {
        if (closed)
        {
            throw new InvalidOperationException($"{operation}: the event loop is closed.");
        }
        if (!isRunning && (threadId == 0 || threadId == Environment.CurrentManagedThreadId))
        {
            // Not running yet: scheduling from the thread that will run it is fine (asyncio allows it).
            return;
        }
        throw new InvalidOperationException(WrongThreadMessage(operation, "the event loop"));
    }

    /// <summary>Debug mode: set on the loop thread while the loop runs, so it flows (in the ExecutionContext) into any
    /// continuation that leaves the thread; seen on another thread, it tells that code drifted off the loop.</summary>
    private static readonly AsyncLocal<EventLoop?> debugOrigin = new();

    /// <summary>Debug mode: the task's context carries this loop as its origin, so a continuation of its code that
    /// leaves the loop thread is recognised (see <see cref="WrongThreadMessage"/>).</summary>
    internal void MarkDebugOrigin(AioTask box)
    {
        var saved = ExecutionContext.Capture();
        if (box.context is { } c)
        {
            ExecutionContext.Restore(c);
        }
        debugOrigin.Value = this;
        box.context = ExecutionContext.Capture();
        if (saved is not null)
        {
            ExecutionContext.Restore(saved);
        }
    }

    /// <summary>The error for a loop-thread-only call made on another thread: names both threads and, in debug mode,
    /// says when the calling code started on the loop and a continuation carried it off (ConfigureAwait(false)).</summary>
    internal string WrongThreadMessage(string operation, string subject)
    {
        var current = Thread.CurrentThread;
        var msg = $"{operation} was called on thread {current.ManagedThreadId} ({current.Name ?? (current.IsThreadPoolThread ? ".NET thread pool" : "unnamed")}), " +
            $"but {subject} runs on thread {threadId} ({loopThreadName ?? "unnamed"}). Kettle objects are loop-thread only: " +
            "from other threads use CallSoonThreadsafe or RunCoroutineThreadsafe.";
        if (Debug && ReferenceEquals(debugOrigin.Value, this))
        {
            msg += " This code started on the event loop's thread and a continuation left it: an await with ConfigureAwait(false) " +
                "(or work passed to Task.Run) resumed on another thread. Remove ConfigureAwait(false) in code that calls Kettle, " +
                "or come back with CallSoonThreadsafe.";
        }
        return msg;
    }

    // ---------------------------------------------------------------- scheduling callbacks

    /// <summary>Queues <paramref name="callback"/> to run in the next loop iteration, after everything
    /// already queued. asyncio counterpart: <c>loop.call_soon</c>.</summary>
    /// <remarks>Threading: loop thread only.</remarks>
    public Handle CallSoon(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        CheckThread(nameof(CallSoon));
        var h = new Handle(this, callback, null);
        Ready.Enqueue(h);
        return h;
    }

    /// <summary>Queues <paramref name="callback"/> with <paramref name="state"/>; see <see cref="CallSoon(Action)"/>.</summary>
    public Handle CallSoon(Action<object?> callback, object? state)
    {
        ArgumentNullException.ThrowIfNull(callback);
        CheckThread(nameof(CallSoon));
        var h = new Handle(this, callback, state);
        Ready.Enqueue(h);
        return h;
    }

    /// <summary>Runs <paramref name="callback"/> once <paramref name="delay"/> has passed on the loop's clock.
    /// A zero or negative delay means the next iteration. asyncio counterpart: <c>loop.call_later</c>.</summary>
    /// <remarks>Threading: loop thread only.</remarks>
    public TimerHandle CallLater(TimeSpan delay, Action callback) => CallAtTicks(Now + Math.Max(0, delay.Ticks), callback, nameof(CallLater));

    /// <summary>Runs <paramref name="callback"/> after <paramref name="seconds"/> seconds; see <see cref="CallLater(TimeSpan, Action)"/>.</summary>
    public TimerHandle CallLater(double seconds, Action callback) => CallAtTicks(Now + Math.Max(0, SecondsToTicks(seconds)), callback, nameof(CallLater));

    /// <summary>Runs <paramref name="callback"/> at loop time <paramref name="when"/> (seconds, as <see cref="Time"/>).
    /// asyncio counterpart: <c>loop.call_at</c>.</summary>
    /// <remarks>Threading: loop thread only.</remarks>
    public TimerHandle CallAt(double when, Action callback) => CallAtTicks(SecondsToTicks(when), callback, nameof(CallAt));

    private TimerHandle CallAtTicks(long due, Action callback, string operation)
    {
        ArgumentNullException.ThrowIfNull(callback);
        CheckThread(operation);
        var h = new TimerHandle(this, due, callback, null);
        Timers.Add(due, h, 0);
        return h;
    }

    /// <summary>Queues <paramref name="callback"/> from any thread and wakes the loop.
    /// asyncio counterpart: <c>loop.call_soon_threadsafe</c>.</summary>
    /// <remarks>Threading: any thread. Throws <see cref="InvalidOperationException"/> once the loop is closed.</remarks>
    public Handle CallSoonThreadsafe(Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        var h = new Handle(this, callback, null);
        if (!TryEnqueueThreadsafe(h))
        {
            throw new InvalidOperationException("CallSoonThreadsafe: the event loop is closed.");
        }
        return h;
    }

    /// <summary>Queues an item from any thread; false once the loop is closed. Lock-free: the loop is woken (one
    /// lock and pulse) only when it sleeps, and only by the first poster that finds it asleep.</summary>
    internal bool TryEnqueueThreadsafe(IReadyItem item)
    {
        if (closed)
        {
            // A post racing with Close may still go in (and be dropped with the other pending items), as a post made
            // just before it would.
            return false;
        }
        inbox.Enqueue(item);
        SignalAdded();
        return true;
    }

    /// <summary>After an item went into either inbox (any thread): tells the loop's iteration, and wakes the loop if
    /// it sleeps.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void SignalAdded()
    {
        Volatile.Write(ref inboxSignal, 1);
        // Dekker with WaitForInbox: the add must be visible before sleepState is read (the loop sets the state and
        // then looks at the inboxes), or both could miss each other and the loop would sleep with an item posted.
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref sleepState) == Sleeping && Interlocked.CompareExchange(ref sleepState, Woken, Sleeping) == Sleeping)
        {
            lock (gate)
            {
                // The loop holds the gate until it sleeps (Monitor.Wait or, with the selector, just before epoll_wait)
                // so this wake cannot come too early; if the loop already left on its timeout, it drains the inbox anyway.
                Selector.WakeLocked();
            }
        }
    }

    /// <summary>Posts an item from any thread through the list linked through the items (see
    /// <see cref="IPostedItem"/>); false once the loop is closed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal bool TryPostThreadsafe(IPostedItem item)
    {
        if (closed)
        {
            return false;
        }
        item.NextPosted = null;
        var previous = Interlocked.Exchange(ref postedTail, item);
        previous.NextPosted = item;
        SignalAdded();
        return true;
    }

    /// <summary>Whether an item was posted through the linked list and not taken yet. Loop thread only.</summary>
    private bool HasPosted => postedHead.NextPosted is not null;

    /// <summary>The head of the posted list before anything was posted.</summary>
    /// <remarks>Threading: as <see cref="IPostedItem"/>; never run.</remarks>
    private sealed class PostedPlaceholder : IPostedItem
    {
        private IPostedItem? next;

        public IPostedItem? NextPosted
        {
            get => Volatile.Read(ref next);
            set => Volatile.Write(ref next, value);
        }

        public void RunReady() => throw new InvalidOperationException("The posted list's placeholder is never run.");
    }

    // ---------------------------------------------------------------- running

    /// <summary>Runs the loop until <see cref="Stop"/> is called. asyncio counterpart: <c>loop.run_forever()</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void RunForever()
    {
        if (closed)
        {
            throw new InvalidOperationException("The event loop is closed.");
        }
        if (isRunning)
        {
            throw new InvalidOperationException("This event loop is already running.");
        }
        if (running is not null)
        {
            throw new InvalidOperationException(
                "Cannot run an event loop while another loop is running on this thread. " +
                "Inside a coroutine, await the work instead, or create a task with Aio.CreateTask.");
        }
        var savedContext = SynchronizationContext.Current;
        running = this;
        threadId = Environment.CurrentManagedThreadId;
        loopThreadName = Thread.CurrentThread.Name;
        isRunning = true;
        SynchronizationContext.SetSynchronizationContext(syncContext);
        try
        {
            if (Debug)
            {
                debugOrigin.Value = this;
            }
            baseContext = ExecutionContext.Capture();
            LiveLoops.Started(this);
            while (!stopping)
            {
                RunOnce();
                if (stopWhenDone is { } t ? t.IsDone : stopWhen is { } w && w())
                {
                    break;
                }
            }
        }
        finally
        {
            if (debugOrigin.Value is not null)
            {
                debugOrigin.Value = null;
            }
            LiveLoops.Stopped(this);
            stopping = false;
            isRunning = false;
            running = null;
            SynchronizationContext.SetSynchronizationContext(savedContext);
        }
    }

    /// <summary>Stops <see cref="RunForever"/> after the current iteration. asyncio counterpart: <c>loop.stop()</c>.</summary>
    /// <remarks>Threading: loop thread only; from another thread use <c>CallSoonThreadsafe(loop.Stop)</c>.</remarks>
    public void Stop()
    {
        CheckThread(nameof(Stop));
        stopping = true;
    }

    /// <summary>Runs the loop until <paramref name="task"/> is done, then returns (without reading its result).</summary>
    internal void RunUntilDone(AioTask task)
    {
        stopWhenDone = task;
        try
        {
            RunForever();
        }
        finally
        {
            stopWhenDone = null;
        }
        if (!task.IsDone)
        {
            throw new InvalidOperationException("The event loop stopped before the task completed.");
        }
    }

    /// <summary>Runs the loop until <paramref name="condition"/> holds after an iteration, or Stop is called.</summary>
    internal void RunUntil(Func<bool> condition)
    {
        stopWhen = condition;
        try
        {
            RunForever();
        }
        finally
        {
            stopWhen = null;
        }
    }

    // Hot path: compiled fully optimized at first call. Tiered compilation would run it unoptimized for the
    // first ~100 ms of a burst, which is most of a short one (see docs/performance.md, "Warm-up").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunOnce()
    {
        DrainInbox();
        if (Ready.Count == 0 && !stopping)
        {
            bool hasTimer = Timers.TryPeekLive(out long due);
            if (virtualClock is not null)
            {
                if (executorPending > 0 || externalPending > 0 || !hasTimer)
                {
                    // Something outside may still post back (a thread, a socket): wait for it in real time, but
                    // only up to ExternalWaitLimit when a timer is due: the outside work may itself be waiting for
                    // something the loop does after that timer, and jumping late beats deadlocking.
                    WaitForInbox(hasTimer && virtualClock.ExternalWaitLimit is { } lim ? lim.Ticks : -1);
                    DrainInbox();
                    if (Ready.Count == 0 && hasTimer)
                    {
                        virtualClock.JumpTo(due);
                    }
                }
                else
                {
                    // Time jumps only when no descriptor is ready either.
                    Selector.Poll();
                    if (Ready.Count == 0)
                    {
                        virtualClock.JumpTo(due);
                    }
                }
            }
            else
            {
                long wait = hasTimer ? due - Now : -1;
                if (wait != 0 && (wait > 0 || !hasTimer))
                {
                    WaitForInbox(wait);
                    DrainInbox();
                }
            }
        }
        else
        {
            // Work is queued: look at the sockets without sleeping, so that a busy loop does not starve them.
            Selector.Poll();
        }

        if (Timers.Count > 0)
        {
            Timers.FireDue(Now, this);
        }

        int n = Ready.Count;
        iterations++;
        inBatch = true;
        if (TimeBatches)
        {
            batchStartedAt = Stopwatch.GetTimestamp();
        }
        if (KettleMetrics.LoopLag.Enabled)
        {
            SampleLag(n);
        }
        if (Debug || KettleMetrics.SlowSteps.Enabled)
        {
            RunBatchDebug(n);
        }
        else
        {
            while (n-- > 0)
            {
                Ready.Dequeue().RunReady();
            }
        }
        if (lagBatchStart != 0)
        {
            // Items queued during this batch have waited at most since it began.
            lagCarriedSince = Ready.Count > 0 ? lagBatchStart : 0;
            lagBatchStart = 0;
        }
        inBatch = false;
        AfterIteration();
    }

    private void SampleLag(int n)
    {
        long now = Stopwatch.GetTimestamp();
        if (lagCarriedSince != 0 && n > 0)
        {
            KettleMetrics.LoopLag.Record(Stopwatch.GetElapsedTime(lagCarriedSince, now).TotalSeconds);
        }
        lagCarriedSince = 0;
        lagBatchStart = now;
    }

    private void RunBatchDebug(int n)
    {
        long slow = SlowCallbackDuration.Ticks;
        while (n-- > 0)
        {
            var item = Ready.Dequeue();
            // The frame the step resumes (innermost), named before the step changes it.
            var frame = item is AioTask t ? (CallGraphBuilder.BoxOf(t.resumeFrame) ?? t) : null;
            long t0 = Stopwatch.GetTimestamp();
            stepFrame = frame;
            stepStartedAt = t0;
            item.RunReady();
            long t1 = Stopwatch.GetTimestamp();
            stepStartedAt = 0;
            stepFrame = null;
            var took = Stopwatch.GetElapsedTime(t0, t1);
            if (Debug && item is AioTask { IsDone: false } task)
            {
                task.Extras.SuspendedAt = t1; // how long each task has waited, for kettle top
            }
            if (took.Ticks >= slow)
            {
                SlowSteps.Add(item is AioTask s ? s.Name : item.ToString() ?? "callback", frame?.CoroutineName, took, t1);
                ReportSlow(item, frame, took);
            }
        }
    }

    private void ReportSlow(IReadyItem item, AioTask? frame, TimeSpan took)
    {
        if (KettleMetrics.SlowSteps.Enabled)
        {
            KettleMetrics.SlowSteps.Add(1);
        }
        if (Debug)
        {
            if (frame is not null)
            {
                var at = SourceLocations.Describe(frame);
                logger.LogWarning("Executing {Item} took {Seconds:0.000} seconds (step resumed in {Frame})", item, took.TotalSeconds, at);
            }
            else
            {
                logger.LogWarning("Executing {Item} took {Seconds:0.000} seconds", item, took.TotalSeconds);
            }
        }
    }

    // Looks at the inbox before sleeping while executor calls are out: a call's result usually comes back within a
    // few microseconds, and sleeping costs a wake-up (a system call on each side, a context switch) per result.
    private const int InboxSpins = 30;

    private void WaitForInbox(long ticks)
    {
        if (executorPending > 0)
        {
            var spin = default(SpinWait);
            for (int i = 0; i < InboxSpins; i++)
            {
                if (!inbox.IsEmpty || HasPosted)
                {
                    return;
                }
                spin.SpinOnce(sleep1Threshold: -1);
            }
        }
        lock (gate)
        {
            Interlocked.Exchange(ref sleepState, Sleeping);
            try
            {
                if (!inbox.IsEmpty || HasPosted)
                {
                    return;
                }
                Selector.Sleep(ticks);
            }
            finally
            {
                Volatile.Write(ref sleepState, Awake);
            }
        }
    }

    // At most this many posted items move to the ready queue per iteration; the rest wait for the next one (the loop
    // does not sleep while the inbox holds any), so threads posting without end cannot keep the loop in here.
    private const int MaxDrain = 1 << 16;

    // At most this many posted items (executor results) are taken per iteration: the walk that takes them then
    // leaves them in the cache for the steps that run them (a burst of 100k results, ~14 MB of calls, is cold by the
    // time it would run), and the ready queue does not grow to hold a whole burst.
    private const int MaxPostedTake = 1024;

    // The last item of a snapshot of the posted list not all taken yet (loop thread only): the rest of it is
    // taken before anything newer, inbox or posted, so one thread's posts keep their order.
    private IPostedItem? postedBacklogEnd;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DrainInbox()
    {
        if (postedBacklogEnd is null && Volatile.Read(ref inboxSignal) == 0)
        {
            return;
        }
        // Cleared before looking, so that anything added from now on sets it again.
        Interlocked.Exchange(ref inboxSignal, 0);
        if (postedBacklogEnd is { } end)
        {
            if (!TakePosted(end))
            {
                return;
            }
            postedBacklogEnd = null;
        }
        // The posted items taken are those in the list before the inbox is read, and they go after the inbox's
        // items: whatever one thread put in the inbox before it posted an item is then in the inbox, so one
        // thread's posts keep their order across the two.
        var last = HasPosted ? Volatile.Read(ref postedTail) : null;
        var q = inbox;
        if (!q.IsEmpty)
        {
            int i = 0;
            for (; i < MaxDrain && q.TryDequeue(out var item); i++)
            {
                Ready.Enqueue(item);
            }
            if (i == MaxDrain)
            {
                // The posted items wait behind the rest of the inbox (the loop does not sleep meanwhile).
                Volatile.Write(ref inboxSignal, 1);
                return;
            }
        }
        if (last is not null && !TakePosted(last))
        {
            postedBacklogEnd = last;
        }
    }

    /// <summary>Moves posted items to the ready queue, up to <paramref name="last"/> and at most
    /// <see cref="MaxPostedTake"/>; true once <paramref name="last"/> was taken.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TakePosted(IPostedItem last)
    {
        var head = postedHead;
        bool reached = false;
        for (int i = 0; i < MaxPostedTake; i++)
        {
            var next = head.NextPosted;
            if (next is null)
            {
                break; // its poster has not linked it yet: it comes next time
            }
            // The old head is out of the list: no poster writes its link any more (its successor was linked).
            head.NextPosted = null;
            head = next;
            Ready.Enqueue(next);
            if (ReferenceEquals(next, last))
            {
                reached = true;
                break;
            }
        }
        postedHead = head;
        return reached;
    }

    // ---------------------------------------------------------------- errors

    /// <summary>Sets the handler for errors nobody else can receive (a failing callback, an exception
    /// never retrieved); null restores the default, which logs. asyncio counterpart: <c>loop.set_exception_handler</c>.</summary>
    /// <remarks>The handler may be called from the finalizer thread for reports made at collection time.</remarks>
    public void SetExceptionHandler(Action<EventLoop, LoopExceptionContext>? handler) => exceptionHandler = handler;

    /// <summary>Reports through the exception handler. asyncio counterpart: <c>loop.call_exception_handler</c>.</summary>
    public void CallExceptionHandler(LoopExceptionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var h = exceptionHandler;
        if (h is null)
        {
            DefaultExceptionHandler(context);
            return;
        }
        try
        {
            h(this, context);
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Unhandled error in exception handler while reporting: {Message}", context.Message);
        }
    }

    /// <summary>Logs <paramref name="context"/> as an error. asyncio counterpart: <c>loop.default_exception_handler</c>.</summary>
    public void DefaultExceptionHandler(LoopExceptionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var extra = context.Task is { } t ? $" (task {t.Name})" : "";
        var source = context.SourceTrace is { } s ? Environment.NewLine + "Object created at (most recent call first, as .NET prints stacks):" + Environment.NewLine + s : "";
        logger.LogError(context.Exception, "{Message}{Task}{Source}", context.Message, extra, source);
    }

    // ---------------------------------------------------------------- closing

    /// <summary>Closes the loop: pending callbacks are dropped and pending tasks are reported as
    /// destroyed while pending. Idempotent. asyncio counterpart: <c>loop.close()</c>.</summary>
    /// <remarks>Threading: the loop's thread, while it is not running.</remarks>
    public void Close()
    {
        if (isRunning)
        {
            throw new InvalidOperationException("Cannot close a running event loop; stop it first.");
        }
        if (closed)
        {
            return;
        }
        OnClosing();
        lock (gate)
        {
            closed = true;
        }
        Selector.Dispose();
    }

    /// <summary>Same as <see cref="Close"/>.</summary>
    public void Dispose() => Close();

    private static bool DebugFromEnvironment() =>
        Environment.GetEnvironmentVariable("KETTLE_DEBUG") is { Length: > 0 } v && v != "0";
}
