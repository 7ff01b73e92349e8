using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>An item of a <see cref="ThreadPoolExecutor"/>'s queue: a call made on one of its threads.</summary>
/// <remarks>Threading: any thread; each item is run or cancelled exactly once (the item decides, atomically).</remarks>
internal interface IThreadWork
{
    /// <summary>On a pool thread: runs the call unless it was cancelled first.</summary>
    void Execute();

    /// <summary>Cancels the call if it has not started (executor shutdown with cancelPending).</summary>
    void CancelQueued();

    /// <summary>The next item in the executor's queue (the queue is a list through its items: no node, no array).</summary>
    IThreadWork? NextQueued { get; set; }
}

/// <summary>
/// A call made from a loop on a thread pool (to_thread, run_in_executor with a <see cref="ThreadPoolExecutor"/>):
/// the call, the queue item and the loop future it completes are this one object, and the outcome comes back
/// through the loop's posted list (<see cref="EventLoop.TryPostThreadsafe"/>) as the object itself, linked through
/// it. One allocation per call (asyncio: the concurrent future, the asyncio future wrapping it, and the
/// call_soon_threadsafe handle). While it is in flight the loop counts it in <see cref="EventLoop.executorPending"/>,
/// so virtual time does not jump past it.
/// </summary>
/// <remarks>
/// State goes Queued → Running → Done, or Queued → Cancelled, by atomic steps: a call cancelled before a thread takes
/// it never runs; a running call is never interrupted (cancelling the future only stops the waiting, and the
/// outcome is dropped when it comes back).
/// <para>Threading: made and completed on the loop thread; run on a pool thread.</para>
/// </remarks>
internal abstract class ThreadCall<TResult> : AioTask<TResult>, IThreadWork, IPostedItem
{
    private const int Queued = 0;
    private const int Running = 1;
    private const int Done = 2;
    private const int CancelledByFuture = 3;
    private const int CancelledByExecutor = 4;

    // The caller's ExecutionContext is kept in the task's own context field, and the result in its result field: a
    // future never resumes as a frame (context) and its result is read only once it succeeded (the thread writes it
    // before it posts the call back, and a call cancelled while it ran never reads it). The exception has a field of
    // its own: the loop writes the task's error when it cancels the future while the thread may still be running.
    private Exception? thrown;

    // Two task fields a future never uses hold the rest (8 B less per call): sleepToken (a future never sleeps) is
    // the call's state, and waitTarget (a future never waits) its link: in the pool's queue while it is queued, then
    // in the loop's posted list once it is done (never both: a thread took it off the queue before it ran).
    private ref int State => ref sleepToken;

    /// <inheritdoc/>
    public IThreadWork? NextQueued
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => Unsafe.As<IThreadWork>(waitTarget);
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        set => waitTarget = value;
    }

    /// <inheritdoc/>
    IPostedItem? IPostedItem.NextPosted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => Unsafe.As<IPostedItem>(Volatile.Read(ref waitTarget));
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        set => Volatile.Write(ref waitTarget, value);
    }

    // The paths of a call are compiled optimized at first call: a burst of calls is over before tiered compilation
    // would replace their unoptimized code (docs/performance.md, "Warm-up").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected ThreadCall(EventLoop loop)
    {
        this.loop = loop;
        status = StatusPending;
        flags = FlagStarted;
        // to_thread copies the caller's context: the thread sees its AsyncLocal values; its changes stay there.
        context = ExecutionContext.Capture();
        loop.executorPending++;
    }

    /// <summary>The function's name, for reports (looked up only when a report asks).</summary>
    internal override string CoroutineName => Function.Method.Name;

    /// <summary>The delegate the call runs.</summary>
    private protected abstract Delegate Function { get; }

    internal override bool IsPlainFuture => true;

    internal override void ResumeCore() => throw new InvalidOperationException("A future has no code to run.");

    /// <summary>The function, called on the pool thread.</summary>
    private protected abstract TResult Call();

    /// <summary>Submission failed (the executor is shut down): the call was never in flight.</summary>
    internal void Abandon() => loop!.executorPending--;

    // ------------------------------------------------------------------ on the pool thread

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IThreadWork.Execute()
    {
        if (Interlocked.CompareExchange(ref State, Running, Queued) != Queued)
        {
            return; // cancelled while queued: it never runs
        }
        var ctx = context;
        if (ctx is null || ReferenceEquals(ctx, ExecutionContext.Capture()))
        {
            // The common case: the caller had no AsyncLocal values and neither has this thread; nothing to switch.
            CallAndStore();
        }
        else
        {
            ExecutionContext.Run(ctx, static s => ((ThreadCall<TResult>)s!).CallAndStore(), this);
        }
        Volatile.Write(ref State, Done);
        var l = loop!;
        if (!l.TryPostThreadsafe(this) && thrown is { } error)
        {
            // The loop closed while the call ran: nobody can await it any more. Say so if it failed.
            l.CallExceptionHandler(new LoopExceptionContext("Executor work failed after its event loop closed", error));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void CallAndStore()
    {
        try
        {
            result = Call();
        }
        catch (Exception ex)
        {
            thrown = ex;
        }
    }

    void IThreadWork.CancelQueued()
    {
        if (Interlocked.CompareExchange(ref State, CancelledByExecutor, Queued) != Queued)
        {
            return;
        }
        var l = loop!;
        if (l.IsOnLoopThread)
        {
            SettleCancelledByExecutor();
        }
        else
        {
            // Closed loop: nothing left to settle.
            _ = l.TryEnqueueThreadsafe(this);
        }
    }

    // ------------------------------------------------------------------ back on the loop

    /// <summary>The outcome came back (or the executor cancelled the call): hand it to the future.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IReadyItem.RunReady()
    {
        if (Volatile.Read(ref State) == CancelledByExecutor)
        {
            SettleCancelledByExecutor();
            return;
        }
        loop!.executorPending--;
        if (IsDone)
        {
            return; // the future was cancelled while the call ran: the outcome is dropped, as asyncio does
        }
        if (thrown is { } error)
        {
            FinishTask(error is CancelledException ? StatusCancelled : StatusFaulted, error);
        }
        else
        {
            FinishTask(StatusSucceeded, null);
        }
    }

    private void SettleCancelledByExecutor()
    {
        loop!.executorPending--;
        if (!IsDone)
        {
            // Cancelled by the executor's shutdown: the future learns it here.
            FinishTask(StatusCancelled, new CancelledException(null));
        }
    }

    /// <summary>A future is cancelled at once; a call not started yet never will be, a running one runs on.</summary>
    internal override bool CancelCore(string? message)
    {
        if (IsDone)
        {
            MarkRetrieved();
            return false;
        }
        if (message is not null)
        {
            Extras.CancelMessage = message;
        }
        if (Interlocked.CompareExchange(ref State, CancelledByFuture, Queued) == Queued)
        {
            loop!.executorPending--; // it will never come back
        }
        FinishTask(StatusCancelled, new CancelledException(message));
        return true;
    }

    /// <inheritdoc/>
    public override string ToString() => $"<Future {(IsDone ? IsCancelled ? "cancelled" : IsFaulted ? "finished exception=" + error?.GetType().Name : "finished" : "pending")}>";
}

/// <summary>A call of <see cref="Func{TResult}"/>.</summary>
internal sealed class ThreadCall0<TResult> : ThreadCall<TResult>
{
    private readonly Func<TResult> function;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ThreadCall0(EventLoop loop, Func<TResult> function)
        : base(loop)
    {
        this.function = function;
    }

    private protected override Delegate Function => function;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override TResult Call() => function();
}

/// <summary>A call of <see cref="Func{T1, TResult}"/> with its argument.</summary>
internal sealed class ThreadCall1<T1, TResult> : ThreadCall<TResult>
{
    private readonly Func<T1, TResult> function;
    private readonly T1 arg1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ThreadCall1(EventLoop loop, Func<T1, TResult> function, T1 arg1)
        : base(loop)
    {
        this.function = function;
        this.arg1 = arg1;
    }

    private protected override Delegate Function => function;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override TResult Call() => function(arg1);
}

/// <summary>A call of <see cref="Func{T1, T2, TResult}"/> with its arguments.</summary>
internal sealed class ThreadCall2<T1, T2, TResult> : ThreadCall<TResult>
{
    private readonly Func<T1, T2, TResult> function;
    private readonly T1 arg1;
    private readonly T2 arg2;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ThreadCall2(EventLoop loop, Func<T1, T2, TResult> function, T1 arg1, T2 arg2)
        : base(loop)
    {
        this.function = function;
        this.arg1 = arg1;
        this.arg2 = arg2;
    }

    private protected override Delegate Function => function;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override TResult Call() => function(arg1, arg2);
}

/// <summary>A call of <see cref="Func{T1, T2, T3, TResult}"/> with its arguments.</summary>
internal sealed class ThreadCall3<T1, T2, T3, TResult> : ThreadCall<TResult>
{
    private readonly Func<T1, T2, T3, TResult> function;
    private readonly T1 arg1;
    private readonly T2 arg2;
    private readonly T3 arg3;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ThreadCall3(EventLoop loop, Func<T1, T2, T3, TResult> function, T1 arg1, T2 arg2, T3 arg3)
        : base(loop)
    {
        this.function = function;
        this.arg1 = arg1;
        this.arg2 = arg2;
        this.arg3 = arg3;
    }

    private protected override Delegate Function => function;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override TResult Call() => function(arg1, arg2, arg3);
}

/// <summary>A call of <see cref="Action"/>.</summary>
internal sealed class ThreadActionCall0 : ThreadCall<VoidResult>
{
    private readonly Action action;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ThreadActionCall0(EventLoop loop, Action action)
        : base(loop)
    {
        this.action = action;
    }

    private protected override Delegate Function => action;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override VoidResult Call()
    {
        action();
        return default;
    }
}

/// <summary>A call of <see cref="Action{T1}"/> with its argument.</summary>
internal sealed class ThreadActionCall1<T1> : ThreadCall<VoidResult>
{
    private readonly Action<T1> action;
    private readonly T1 arg1;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ThreadActionCall1(EventLoop loop, Action<T1> action, T1 arg1)
        : base(loop)
    {
        this.action = action;
        this.arg1 = arg1;
    }

    private protected override Delegate Function => action;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private protected override VoidResult Call()
    {
        action(arg1);
        return default;
    }
}
