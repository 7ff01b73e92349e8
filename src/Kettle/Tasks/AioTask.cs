using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Kettle;

/// <summary>A place a task can resume: a coroutine frame, or a foreign continuation.</summary>
internal interface IFrame
{
    void ResumeFrame();
}

/// <summary>Something a task can be suspended on, which knows how to cancel that wait.</summary>
internal interface IWaitTarget
{
    /// <summary>Cancels <paramref name="waiter"/>'s wait; true if the cancellation will be delivered through it
    /// (asyncio: <c>fut_waiter.cancel(msg)</c> returned True).</summary>
    bool CancelWait(AioTask waiter, string? message);
}

/// <summary>Kettle's own observer of a task's end, told at once (inline in the task's end) because it runs no user
/// code: gather updates its count and queues its own waiters; task groups, shields, Wait and AsCompleted queue
/// themselves on the loop, in the place their done callback would take, and do the callback's work when run.</summary>
internal interface IChildWatcher
{
    void OnChildDone(AioTask child);
}

/// <summary>An awaiter of Kettle's own: the coroutine builder hands it the suspended frame directly,
/// so a loop-native await allocates nothing.</summary>
internal interface ILoopAwaiter
{
    void OnSuspend(AioTask frame);
}

/// <summary>
/// A Kettle task: a coroutine scheduled on the loop, named, cancellable at its current await, awaitable.
/// asyncio counterpart: <c>asyncio.Task</c>.
/// </summary>
/// <remarks>
/// <para>The task object is the coroutine's own state-machine box: creating a task allocates one object.</para>
/// <para>Semantics, as asyncio's:</para>
/// <list type="bullet">
/// <item>Creating a task queues its first step; nothing runs inline.</item>
/// <item>Callbacks and awaiters of a finished task are queued on the loop, never run inline.</item>
/// <item><see cref="Cancel(string?)"/> is a request, delivered as <see cref="CancelledException"/> at the task's
/// current Kettle await (or its next one, if it is running or waiting on a foreign awaitable); requests are
/// counted (<see cref="Cancelling"/>, <see cref="Uncancel"/>). <see cref="CancellationToken"/> is cancelled at
/// once, for foreign APIs.</item>
/// <item>The task ends cancelled only when the cancellation escapes its coroutine.</item>
/// </list>
/// <para>Threading: loop thread only.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public abstract class AioTask : IReadyItem, ITimerTarget, IWaitTarget, IFrame
{
    internal const byte StatusCold = 0;     // a coroutine not yet awaited or scheduled
    internal const byte StatusInline = 1;   // a coroutine running inside another task's await
    internal const byte StatusPending = 2;  // a scheduled task, not finished
    internal const byte StatusSucceeded = 3;
    internal const byte StatusFaulted = 4;
    internal const byte StatusCancelled = 5;

    internal const byte FlagMustCancel = 1;     // a cancel request waits for the next suspension
    internal const byte FlagDeliverCancel = 2;  // the next resumption throws CancelledException
    internal const byte FlagRetrieved = 4;      // the exception was read
    internal const byte FlagStarted = 8;        // the first step ran
    internal const byte FlagMarked = 16;        // scratch mark for de-duplicating (gather), always cleared after use
    internal const byte FlagBlockedOutside = 32; // counted in the loop's externalPending (see EndStep)
    internal const byte FlagCancelPropagating = 64; // passing a cancel on to what it waits on (await-cycle guard)

    private static long taskCounter;

    internal EventLoop? loop;
    /// <summary>
    /// Task: the frame to resume at the next step; null before the first step and while a step runs.
    /// Inline frame (a coroutine awaited without a task of its own): whom to resume when it completes, its awaiting
    /// frame (or an <see cref="ActionFrame"/> for a foreign awaiter); set only while it is suspended.
    /// One field for both roles, since a box is a task or an inline frame, never both: every byte of the box counts a
    /// million times over when a million tasks wait.
    /// </summary>
    internal IFrame? resumeFrame;
    /// <summary>Task: what it is suspended on (an <see cref="IWaitTarget"/>), cleared when a step starts. A plain
    /// future never waits: a thread call uses it as its queue link (<see cref="ThreadCall{TResult}"/>).</summary>
    internal object? waitTarget;
    /// <summary>Who waits for the end: an <see cref="AioTask"/>, an <see cref="Action"/>, an
    /// <see cref="Action{AioTask}"/> done callback, or a <see cref="List{T}"/> of those.</summary>
    internal object? waiters;
    internal Exception? error;
    /// <summary>The ExecutionContext to restore when this frame resumes (AsyncLocal values).</summary>
    internal ExecutionContext? context;
    internal TaskExtras? extras;
    internal long id;
    internal int cancelRequests;
    /// <summary>Task: bumped to invalidate its sleep's timer entry. A thread call's state (a future never sleeps).</summary>
    internal int sleepToken;
    internal int slot = -1;
    internal byte status;
    internal byte flags;

    private protected AioTask()
    {
    }

    // ------------------------------------------------------------------ public surface

    /// <summary>The loop the task belongs to.</summary>
    public EventLoop Loop => loop ?? throw new InvalidOperationException("This coroutine has not been scheduled on a loop.");

    /// <summary>The task's name; "Task-N" unless given. asyncio counterpart: <c>get_name()</c> / <c>set_name()</c>.</summary>
    public string Name
    {
        get => extras?.Name ?? (id != 0 ? "Task-" + id.ToString(System.Globalization.CultureInfo.InvariantCulture) : "(not scheduled)");
        set => Extras.Name = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>A process-wide number, unique per task (the N of "Task-N").</summary>
    public long Id => id;

    /// <summary>Whether the task has finished: succeeded, failed or cancelled. asyncio: <c>done()</c>.</summary>
    public bool IsDone
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => status >= StatusSucceeded;
    }

    /// <summary>Whether the task ended cancelled. asyncio: <c>cancelled()</c>.</summary>
    public bool IsCancelled
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => status == StatusCancelled;
    }

    /// <summary>Whether the task ended with an exception other than cancellation.</summary>
    public bool IsFaulted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => status == StatusFaulted;
    }

    /// <summary>
    /// The exception the task ended with, or null if it succeeded. asyncio: <c>exception()</c>.
    /// Throws <see cref="CancelledException"/> if the task was cancelled and
    /// <see cref="InvalidOperationException"/> if it has not finished.
    /// </summary>
    public Exception? Exception
    {
        get
        {
            EnsureDone();
            MarkRetrieved();
            return status == StatusCancelled ? ThrowCancelled<Exception>() : error;
        }
    }

    /// <summary>
    /// A token cancelled whenever the task is cancelled, to pass to foreign .NET APIs (HttpClient, sockets).
    /// After <see cref="Uncancel"/> brings the count back to zero, a fresh token is handed out.
    /// </summary>
    public CancellationToken CancellationToken
    {
        get
        {
            var x = Extras;
            if (x.Cts is null)
            {
                x.Cts = new CancellationTokenSource();
                TokenDelivery.EnsureHooked();
            }
            if (cancelRequests > 0 && !x.Cts.IsCancellationRequested)
            {
                x.Cts.Cancel();
            }
            return x.Cts.Token;
        }
    }

    /// <summary>
    /// Requests cancellation: returns false if the task is done. Otherwise counts the request and delivers
    /// <see cref="CancelledException"/> (with <paramref name="message"/>) at the task's current Kettle await,
    /// or its next one; cancels <see cref="CancellationToken"/>. asyncio counterpart: <c>Task.cancel(msg)</c>.
    /// The task it awaits, if a task, is cancelled too; for tasks awaiting each other in a cycle, the cancel
    /// goes round the cycle once and is delivered (asyncio recurses until RecursionError).
    /// </summary>
    public bool Cancel(string? message = null)
    {
        CheckLoopThread(nameof(Cancel));
        if ((flags & FlagCancelPropagating) != 0 && !IsDone)
        {
            // Called while this task or gather passes an earlier cancel on (from a CancellationToken callback
            // run by that cancel): a request of its own, counted, delivered with the one on its way.
            return CancelAgainWhilePropagating(message);
        }
        return CancelCore(message);
    }

    private bool CancelAgainWhilePropagating(string? message)
    {
        if (IsPlainFuture)
        {
            return true; // a gather: its children are being cancelled
        }
        cancelRequests++;
        Extras.CancelMessage = message;
        flags |= FlagMustCancel;
        return true;
    }

    internal virtual bool CancelCore(string? message)
    {
        if (IsDone)
        {
            MarkRetrieved();
            return false;
        }
        if ((flags & FlagCancelPropagating) != 0)
        {
            // This cancel went round an await cycle and came back: it was already counted here.
            return CloseCancelCycle(loop!);
        }
        cancelRequests++;
        if (message is not null || extras is not null)
        {
            Extras.CancelMessage = message;
        }
        if (extras?.Cts is { IsCancellationRequested: false } cts)
        {
            try
            {
                cts.Cancel();
            }
            catch (AggregateException ex)
            {
                loop?.CallExceptionHandler(new LoopExceptionContext("A CancellationToken callback failed while cancelling a task.", ex) { Task = this });
            }
        }
        if (waitTarget is IWaitTarget w && PropagateCancel(w, message))
        {
            return true;
        }
        flags |= FlagMustCancel;
        return true;
    }

    /// <summary>
    /// Cancels this task's wait on <paramref name="target"/> (asyncio: <c>fut_waiter.cancel(msg)</c>), marked as
    /// passing a cancel on meanwhile: if the cancel comes back to this task (an await cycle: A awaits B, B awaits
    /// A), <see cref="CancelCore"/> stops there instead of going round again until the stack overflows.
    /// </summary>
    internal bool PropagateCancel(IWaitTarget target, string? message)
    {
        var l = loop!;
        var outer = l.cancelPropagator;
        flags |= FlagCancelPropagating;
        l.cancelPropagator = this;
        try
        {
            return target.CancelWait(this, message);
        }
        finally
        {
            flags &= unchecked((byte)~FlagCancelPropagating);
            l.cancelPropagator = outer;
        }
    }

    /// <summary>
    /// A cancel came back to a task or gather still passing it on: it went round an await cycle. asyncio goes
    /// round again until RecursionError; Kettle stops here. The last task the cancel reached (the innermost
    /// one passing it on, whose wait leads back into the cycle) has that wait cancelled directly, as a wait
    /// on a plain future is: it is queued to get <see cref="CancelledException"/> at its await. When it ends
    /// cancelled, the task awaiting it sees that, and so on back round the cycle. Returns true: the cancel
    /// that came back will be delivered.
    /// </summary>
    internal static bool CloseCancelCycle(EventLoop l)
    {
        var t = l.cancelPropagator;
        if (t is null)
        {
            // Only gathers are passing the cancel on (a gather's children cannot lead back to it without a task).
            return false;
        }
        if (t.waitTarget is AioTask target && !target.IsDone)
        {
            target.RemoveWaiter(t);
            if (target.IsPlainFuture)
            {
                // A gather nobody awaits any more: its cancellation is not an unretrieved exception.
                target.AddWaiter(RetrieveCancellation);
            }
            t.waitTarget = null;
            t.DeliverCancelNow();
        }
        else
        {
            // Its wait already ended (it is queued) or was cancelled: the cancel is delivered when it resumes.
            t.flags |= FlagMustCancel;
        }
        return true;
    }

    private static readonly Action<AioTask> RetrieveCancellation = static f =>
    {
        if (f.error is CancelledException)
        {
            f.MarkRetrieved();
        }
    };

    /// <summary>How many cancellation requests are outstanding. asyncio counterpart: <c>cancelling()</c>.</summary>
    public int Cancelling() => cancelRequests;

    /// <summary>
    /// Withdraws one cancellation request and returns how many remain. At zero, a request not yet delivered
    /// is dropped and <see cref="CancellationToken"/> is renewed. asyncio counterpart: <c>uncancel()</c> (3.13+).
    /// </summary>
    public int Uncancel()
    {
        if (cancelRequests > 0)
        {
            cancelRequests--;
            if (cancelRequests == 0)
            {
                flags &= unchecked((byte)~FlagMustCancel);
                if (extras?.Cts is { IsCancellationRequested: true } cts)
                {
                    cts.Dispose();
                    extras.Cts = null;
                }
            }
        }
        return cancelRequests;
    }

    /// <summary>Adds a callback run (queued on the loop, never inline) when the task is done; if it is
    /// already done, the callback is queued now. asyncio counterpart: <c>add_done_callback</c>.</summary>
    public void AddDoneCallback(Action<AioTask> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (IsDone)
        {
            CallSoonWithThis(callback);
            return;
        }
        AddWaiter(callback);
    }

    // The closure is made here: in AddDoneCallback the compiler allocated it on entry, on every call (a captured
    // parameter's closure is made when the method starts), though only a done task needs it.
    private void CallSoonWithThis(Action<AioTask> callback) => Loop.CallSoon(() => callback(this));

    /// <summary>Removes every registration of <paramref name="callback"/>; returns how many were removed.
    /// asyncio counterpart: <c>remove_done_callback</c>.</summary>
    public int RemoveDoneCallback(Action<AioTask> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        switch (waiters)
        {
            case Action<AioTask> a when a.Equals(callback):
                waiters = null;
                return 1;
            case List<object> list:
                return RemoveAllCallbacks(list, callback);
            default:
                return 0;
        }
    }

    // A loop, not List.RemoveAll with a lambda: that lambda captured the parameter, and the compiler allocated its
    // closure on entry to RemoveDoneCallback, on every call, whatever the waiters.
    private static int RemoveAllCallbacks(List<object> list, Action<AioTask> callback)
    {
        int kept = 0;
        for (int i = 0; i < list.Count; i++)
        {
            var o = list[i];
            if (!(o is Action<AioTask> a && a.Equals(callback)))
            {
                list[kept++] = o;
            }
        }
        int removed = list.Count - kept;
        list.RemoveRange(kept, removed);
        return removed;
    }

    /// <summary>Waits for the task to finish; throws its exception, or <see cref="CancelledException"/> if cancelled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AioTaskAwaiter GetAwaiter() => new(this);

    /// <inheritdoc/>
    public override string ToString()
    {
        var state = status switch
        {
            StatusCold => "cold",
            StatusInline => "running inline",
            StatusPending => "pending",
            StatusCancelled => "cancelled",
            StatusFaulted => "finished exception=" + error?.GetType().Name,
            _ => "finished",
        };
        return $"<Task {state} name='{Name}' coro=<{CoroutineName}>>";
    }

    /// <summary>The result as an object (null for tasks without one); only valid once succeeded.</summary>
    internal virtual object? BoxedResult => null;

    /// <summary>The method the task runs, for reports (asyncio: the <c>coro=</c> of the repr).</summary>
    internal abstract string CoroutineName { get; }

    /// <summary>The compiler-generated state machine behind this frame, for source locations; null when there is none.</summary>
    internal virtual Type? StateMachineType => null;

    /// <summary>A future that runs no code (Future, gather): shown as "Future(...)" in call graphs.</summary>
    internal virtual bool IsPlainFuture => false;

    /// <summary>Records that <paramref name="awaiter"/> waits for this task (call graphs; asyncio's future_add_to_awaited_by).</summary>
    internal void AddAwaitedBy(AioTask? awaiter)
    {
        if (awaiter is not null && !IsDone)
        {
            (Extras.AwaitedBy ??= new List<AioTask>(1)).Add(awaiter);
        }
    }

    /// <summary>Removes a link made by <see cref="AddAwaitedBy"/> (asyncio's future_discard_from_awaited_by).</summary>
    internal void RemoveAwaitedBy(AioTask? awaiter)
    {
        if (awaiter is not null && extras?.AwaitedBy is { } list)
        {
            list.Remove(awaiter);
        }
    }

    // ------------------------------------------------------------------ internals: identity, state

    internal TaskExtras Extras => extras ??= new TaskExtras();

    internal static long NextId() => Interlocked.Increment(ref taskCounter);

    /// <summary>Whether this box was scheduled as a task (tasks get their number then; inline frames never do).</summary>
    internal bool IsTaskBox => id != 0;

    /// <summary>The task this frame runs in: itself for a task; for an inline frame, the task whose step is running
    /// (an inline frame only runs, and suspends, inside its task's steps). Loop thread, during a step, only.</summary>
    internal AioTask OwnerTask
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => id != 0 ? this : loop!.currentTask!;
    }

    internal void CheckLoopThread(string operation)
    {
        if (loop is { } l && !l.IsOnLoopThread && l.IsRunning)
        {
            l.CheckThread(operation);
        }
    }

    private void EnsureDone()
    {
        if (!IsDone)
        {
            throw new InvalidOperationException($"Result is not set: task '{Name}' has not finished.");
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void MarkRetrieved()
    {
        flags |= FlagRetrieved;
        if (extras?.Report is { } r)
        {
            extras.Report = null;
            r.Dismiss();
        }
    }

    internal CancelledException MakeCancelled() => new(extras?.CancelMessage, error);

    private protected T ThrowCancelled<T>() => throw MakeCancelled();

    /// <summary>Throws what a finished frame or task ended with (for await and Result).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void ThrowIfUnsuccessful()
    {
        if (status != StatusSucceeded)
        {
            ThrowUnsuccessful();
        }
    }

    // Out of line: every awaiter's GetResult inlines the check above, not this.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowUnsuccessful()
    {
        MarkRetrieved();
        if (status == StatusCancelled)
        {
            throw MakeCancelled();
        }
        ExceptionDispatchInfo.Throw(error!);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void AddWaiter(object waiter)
    {
        switch (waiters)
        {
            case null:
                waiters = waiter;
                break;
            case List<object> list:
                list.Add(waiter);
                break;
            default:
                waiters = new List<object>(4) { waiters, waiter };
                break;
        }
    }

    internal void RemoveWaiter(object waiter)
    {
        if (ReferenceEquals(waiters, waiter))
        {
            waiters = null;
        }
        else if (waiters is List<object> list)
        {
            list.Remove(waiter);
        }
    }

    // ------------------------------------------------------------------ running

    /// <summary>A task step: resume the frame the task is suspended in (asyncio: <c>Task.__step</c>).</summary>
    // Hot path: compiled fully optimized at first call. Tiered compilation would run it unoptimized for the
    // first ~100 ms of a burst, which is most of a short one (see docs/performance.md, "Warm-up").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IReadyItem.RunReady()
    {
        if (status != StatusPending)
        {
            return;
        }
        var l = loop!;
        var frame = resumeFrame;
        resumeFrame = null;
        waitTarget = null;
        BeginStep(l);
        var stepContext = StepSynchronizationContext;
        if (stepContext is not null)
        {
            SynchronizationContext.SetSynchronizationContext(stepContext);
        }
        try
        {
            if ((flags & FlagStarted) == 0)
            {
                flags |= FlagStarted;
                if ((flags & FlagMustCancel) != 0)
                {
                    // Cancelled before its first step: the body never runs (asyncio throws into a fresh coroutine).
                    flags &= unchecked((byte)~FlagMustCancel);
                    FinishTask(StatusCancelled, null);
                    return;
                }
                frame = this;
            }
            else if ((flags & FlagMustCancel) != 0)
            {
                // Cancelled while queued (what woke it can no longer be cancelled): asyncio throws
                // CancelledError into the coroutine at the await it resumes from.
                flags = (byte)((flags & ~FlagMustCancel) | FlagDeliverCancel);
            }
            RunFrame(frame!, l);
        }
        finally
        {
            if (stepContext is not null)
            {
                SynchronizationContext.SetSynchronizationContext(l.SynchronizationContext);
            }
            EndStep(l);
        }
    }

    /// <summary>A SynchronizationContext to install during this task's steps (plain async code run as a task
    /// posts its continuations back as steps of the task); null for coroutines, whose builder knows the task.</summary>
    internal virtual SynchronizationContext? StepSynchronizationContext
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => null;
    }

    /// <summary>Start of any step of this task: it is running, so it no longer counts as waiting on the outside.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void BeginStep(EventLoop l)
    {
        l.currentTask = this;
        l.suspendContextState = EventLoop.ContextUnknown;
        if ((flags & FlagBlockedOutside) != 0)
        {
            flags &= unchecked((byte)~FlagBlockedOutside);
            l.externalPending--;
        }
    }

    /// <summary>
    /// End of any step. A pending task that left no Kettle wait behind (no frame to resume) is waiting on
    /// something outside the loop: a thread-pool job, a socket. Virtual time must not jump past that, so the
    /// loop counts such tasks. A task whose foreign await is itself driven by a Kettle wait (an async iterator
    /// that sleeps, a plain async helper that awaits a Kettle task) left a frame, and does not count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void EndStep(EventLoop l)
    {
        l.currentTask = null;
        if (status == StatusPending && resumeFrame is null && (flags & (FlagStarted | FlagBlockedOutside)) == FlagStarted)
        {
            flags |= FlagBlockedOutside;
            l.externalPending++;
        }
        l.RestoreBaseContext();
    }

    /// <summary>Resumes <paramref name="frame"/> with its ExecutionContext.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void RunFrame(IFrame frame, EventLoop l)
    {
        // A frame is one of three kinds. The two sealed ones are told by their exact type (one compare); a class
        // test for AioTask would walk the box's base types, and an interface call goes through a dispatch stub.
        if (frame is Waiter waiter)
        {
            waiter.ResumeAsFrame();
            return;
        }
        if (frame is ActionFrame action)
        {
            action.ResumeFrame();
            return;
        }
        Debug.Assert(frame is AioTask, "A frame is a Waiter, an ActionFrame or a task box.");
        var box = Unsafe.As<AioTask>(frame);
        var ctx = box.context;
        if (ctx is not null && !ReferenceEquals(ctx, l.baseContext))
        {
            ExecutionContext.Restore(ctx);
        }
        box.ResumeCore();
    }

    void IFrame.ResumeFrame() => ResumeCore();

    /// <summary>Runs the frame's code until it suspends or finishes (the state machine's MoveNext).</summary>
    internal abstract void ResumeCore();

    /// <summary>Called by the awaiter after a task suspended: a pending cancel request goes to what it waits on now.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void AfterSuspend()
    {
        if ((flags & FlagDeliverCancel) != 0)
        {
            // Marked for delivery when the task resumed from a foreign await (queued back, e.g. after
            // ConfigureAwait(false)), whose GetResult cannot throw it: it is still an undelivered request
            // (asyncio's must_cancel), for this await to deliver now rather than after the wait ends.
            flags = (byte)((flags & ~FlagDeliverCancel) | FlagMustCancel);
        }
        if ((flags & FlagMustCancel) != 0 && waitTarget is IWaitTarget w && PropagateCancel(w, extras?.CancelMessage))
        {
            flags &= unchecked((byte)~FlagMustCancel);
        }
    }

    /// <summary>At a resumed Kettle await: throws the cancellation delivered to the current task, if any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    internal static void ThrowIfCancelDelivered()
    {
        var t = EventLoop.RunningOnThisThread?.currentTask;
        if (t is not null && (t.flags & FlagDeliverCancel) != 0)
        {
            t.flags &= unchecked((byte)~FlagDeliverCancel);
            throw t.MakeCancelledForDelivery();
        }
    }

    /// <summary>
    /// At a resumed Kettle await: takes the cancellation delivered to the current task, if any, so that a
    /// primitive can undo what its wake-up granted (pass a lock on, put an item back) before throwing it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static CancelledException? TakeCancelDelivery()
    {
        var t = EventLoop.RunningOnThisThread?.currentTask;
        if (t is not null && (t.flags & FlagDeliverCancel) != 0)
        {
            t.flags &= unchecked((byte)~FlagDeliverCancel);
            return t.MakeCancelledForDelivery();
        }
        return null;
    }

    private CancelledException MakeCancelledForDelivery() => new(extras?.CancelMessage);

    /// <summary>Marks the task to receive CancelledException and queues it (used by cancellable waits).</summary>
    internal void DeliverCancelNow()
    {
        flags |= FlagDeliverCancel;
        loop!.Ready.Enqueue(this);
    }

    // ------------------------------------------------------------------ finishing

    /// <summary>A frame's code finished (builder SetResult / SetException, or a foreign task completed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void CompleteFrame(Exception? exception)
    {
        if (id != 0)
        {
            byte outcome;
            if (exception is null)
            {
                // Cancelled and returned in the same step without awaiting: asyncio ends it cancelled (test_cancel_at_end).
                // A delivery still marked (the step resumed from a foreign await) was never thrown either.
                outcome = (flags & (FlagMustCancel | FlagDeliverCancel)) != 0 ? StatusCancelled : StatusSucceeded;
            }
            else if (IsCancellationOf(exception))
            {
                outcome = StatusCancelled;
            }
            else
            {
                outcome = StatusFaulted;
            }
            context = ExecutionContext.Capture();
            FinishTask(outcome, exception);
            return;
        }

        // An inline frame: hand the outcome to whoever awaits it, in this same step.
        error = exception;
        status = exception is null ? StatusSucceeded : StatusFaulted;
        var p = resumeFrame;
        resumeFrame = null;
        if (p is not null)
        {
            // RunFrame tells the three kinds of frame apart (without a class test for a task box).
            RunFrame(p, loop!);
        }
    }

    internal bool IsCancellationOf(Exception exception) =>
        exception is CancelledException
        || (exception is OperationCanceledException oce && extras?.Cts is { } cts && oce.CancellationToken == cts.Token);

    /// <summary>Ends the task and queues everyone waiting for it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void FinishTask(byte outcome, Exception? exception)
    {
        Debug.Assert(status == StatusPending, "Only a pending task can finish.");
        status = outcome;
        error = exception;
        if (outcome == StatusCancelled && exception is CancelledException ce && ce.CancelMessage is { } m)
        {
            Extras.CancelMessage = m;
        }
        var l = loop!;
        l.Unregister(this);
        var w = waiters;
        waiters = null;
        if (w is List<object> list)
        {
            foreach (var item in list)
            {
                Wake(item, l);
            }
        }
        else if (w is not null)
        {
            Wake(w, l);
        }
        else if (outcome == StatusFaulted)
        {
            // Nobody is waiting: if nobody ever reads it, it is reported when the task is collected.
            Extras.Report = UnretrievedReport.ForException(this, l);
        }
        if (outcome == StatusFaulted && w is not null && (flags & FlagRetrieved) == 0)
        {
            // Done callbacks may not read it either; keep the guard until someone does.
            Extras.Report ??= UnretrievedReport.ForException(this, l);
        }
        if (extras?.Cts is { } c)
        {
            extras.Cts = null;
            c.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Wake(object waiter, EventLoop l)
    {
        switch (waiter)
        {
            case IChildWatcher watcher:
                // Kettle's own bookkeeping (gather, groups, shield, wait): it runs no user code, so it is told now
                // and queues what must be queued; user-visible callbacks stay queued. (Checked first: a gather is
                // also an AioTask.)
                watcher.OnChildDone(this);
                break;
            case AioTask t:
                l.Ready.Enqueue(t);
                break;
            case Action<AioTask> cb:
                l.Ready.Enqueue(DoneCallbackHandle(l, cb));
                break;
            case Action a:
                l.Ready.Enqueue(new Handle(l, a, null));
                break;
        }
    }

    // The closure is made here, not in Wake: there the compiler would allocate it on every wake-up, whatever the
    // waiter (a captured pattern variable's closure is made when its scope is entered).
    private Handle DoneCallbackHandle(EventLoop l, Action<AioTask> cb) => new(l, () => cb(this), null);

    // ------------------------------------------------------------------ waits

    /// <summary>Cancelling a task that waits on this task cancels this task (asyncio: the awaited
    /// task is the waiter's <c>_fut_waiter</c>).</summary>
    bool IWaitTarget.CancelWait(AioTask waiter, string? message) => CancelCore(message);

    /// <summary>Registers <paramref name="waiterTask"/> (suspended in <paramref name="frame"/>) to resume when this task is done.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void SuspendUntilDone(AioTask waiterTask, IFrame frame)
    {
        if (ReferenceEquals(waiterTask, this))
        {
            throw new InvalidOperationException($"Task '{Name}' cannot await itself.");
        }
        if (waiterTask.loop != loop)
        {
            throw new InvalidOperationException($"Task '{Name}' is attached to a different loop than the task awaiting it.");
        }
        waiterTask.resumeFrame = frame;
        if (IsDone)
        {
            waiterTask.loop!.Ready.Enqueue(waiterTask);
            return;
        }
        waiterTask.waitTarget = this;
        AddWaiter(waiterTask);
        waiterTask.AfterSuspend();
    }

    // Sleep: the task's own timer entry, invalidated by bumping sleepToken.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    bool ITimerTarget.IsTimerLive(int token) => token == sleepToken && status == StatusPending;

    void ITimerTarget.OnTimerDue(int token, EventLoop l)
    {
        // The sleep is over and the task is queued: a cancel from now on cannot go through the timer
        // (that would queue the task twice); it is a must-cancel for the step (asyncio: the sleep's
        // future is done, so cancel() sets _must_cancel).
        waitTarget = null;
        l.Ready.Enqueue(this);
    }
}

/// <summary>A Kettle task with a result. asyncio counterpart: <c>asyncio.Task</c>.</summary>
/// <typeparam name="T">The result type.</typeparam>
/// <remarks>Threading: loop thread only.</remarks>
public abstract class AioTask<T> : AioTask
{
    internal T? result;

    private protected AioTask()
    {
    }

    /// <summary>
    /// The result. Throws the task's exception if it failed, <see cref="CancelledException"/> if it was
    /// cancelled, and <see cref="InvalidOperationException"/> if it has not finished (it never blocks).
    /// asyncio counterpart: <c>result()</c>.
    /// </summary>
    public T Result
    {
        get
        {
            if (!IsDone)
            {
                return ThrowNotDone();
            }
            ThrowIfUnsuccessful();
            return result!;
        }
    }

    private T ThrowNotDone() => throw new InvalidOperationException($"Result is not set: task '{Name}' has not finished.");

    /// <summary>Waits for the task to finish and returns its result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public new AioTaskAwaiter<T> GetAwaiter() => new(this);

    internal override object? BoxedResult => result is VoidResult ? null : result;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal T GetResultAfterWait()
    {
        ThrowIfUnsuccessful();
        return result!;
    }
}

/// <summary>Rarely used per-task state, kept out of the task object so that a plain task stays small.</summary>
internal sealed class TaskExtras
{
    public string? Name;
    public string? CancelMessage;
    public CancellationTokenSource? Cts;
    public UnretrievedReport? Report;
    public string? CreationTrace;
    /// <summary>Debug mode: Stopwatch timestamp at which the task's last step ended (read by kettle top, any thread).</summary>
    public long SuspendedAt;
    /// <summary>Awaiters recorded by combinators that wait through callbacks (shield, wait), for call graphs.</summary>
    public List<AioTask>? AwaitedBy;
    /// <summary>A coroutine frame's continuation for foreign awaiters (Task, ValueTask), made at its first such await.</summary>
    public Action? ForeignResume;
    /// <summary>The task of a frame waiting on a foreign awaiter (its continuation may arrive on any thread).</summary>
    public AioTask? ForeignOwner;
    /// <summary>Debug mode: the IL offset in the frame's MoveNext of the await it last suspended at (-1: unknown),
    /// which call graphs turn into the await's line.</summary>
    public int SuspendILOffset = -1;
}

/// <summary>
/// Knows when a cancellation reached a task through its <see cref="AioTask.CancellationToken"/>: a foreign
/// operation (Task.Delay, HttpClient) threw the token's OperationCanceledException on the loop thread. That
/// is the delivery, so the request is not thrown again at the task's next Kettle await (asyncio delivers a
/// cancel once: cleanup in <c>finally</c> may await). A foreign operation that ignored the token delivers
/// nothing, and the next Kettle await throws CancelledException.
/// </summary>
internal static class TokenDelivery
{
    private static int hooked;

    public static void EnsureHooked()
    {
        if (Interlocked.Exchange(ref hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.FirstChanceException += OnFirstChance;
        }
    }

    private static void OnFirstChance(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
    {
        if (e.Exception is not OperationCanceledException oce || oce is CancelledException)
        {
            return;
        }
        var t = EventLoop.RunningOnThisThread?.currentTask;
        if (t is not null
            && (t.flags & (AioTask.FlagMustCancel | AioTask.FlagDeliverCancel)) != 0
            && t.extras?.Cts is { IsCancellationRequested: true } cts
            && oce.CancellationToken == cts.Token)
        {
            t.flags &= unchecked((byte)~(AioTask.FlagMustCancel | AioTask.FlagDeliverCancel));
        }
    }
}
