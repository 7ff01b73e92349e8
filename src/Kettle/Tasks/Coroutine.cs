using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>
/// A Kettle coroutine with a result: what an <c>async Coroutine&lt;T&gt;</c> method returns. It is cold:
/// calling the method runs nothing. Awaiting it runs it inside the awaiting task (no new task);
/// <see cref="Aio.CreateTask{T}(Coroutine{T}, string?)"/> schedules it as a task of its own.
/// A coroutine runs once; one that is neither awaited nor scheduled is reported as never awaited.
/// asyncio counterpart: a coroutine object (the result of calling an <c>async def</c>).
/// </summary>
/// <typeparam name="T">The result type.</typeparam>
/// <remarks>Threading: await or schedule it on the loop thread.</remarks>
[AsyncMethodBuilder(typeof(CoroutineMethodBuilder<>))]
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct Coroutine<T>
{
    internal readonly CoroutineBox<T>? Box;

    internal Coroutine(CoroutineBox<T> box) => Box = box;

    /// <summary>Starts the coroutine inside the awaiting task and waits for it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public CoroutineAwaiter<T> GetAwaiter()
    {
        var box = Box ?? throw CoroutineBox.DefaultCoroutine();
        box.BeginAwait();
        return new CoroutineAwaiter<T>(box);
    }

    /// <inheritdoc/>
    public override string ToString() => Box is null ? "<coroutine (default)>" : $"<coroutine object {Box.CoroutineName}>";
}

/// <summary>
/// A Kettle coroutine without a result: what an <c>async Coroutine</c> method returns. See <see cref="Coroutine{T}"/>.
/// asyncio counterpart: a coroutine object.
/// </summary>
/// <remarks>Threading: await or schedule it on the loop thread.</remarks>
[AsyncMethodBuilder(typeof(CoroutineMethodBuilder))]
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct Coroutine
{
    internal readonly CoroutineBox<VoidResult>? Box;

    internal Coroutine(CoroutineBox<VoidResult> box) => Box = box;

    /// <summary>Starts the coroutine inside the awaiting task and waits for it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public CoroutineAwaiter GetAwaiter()
    {
        var box = Box ?? throw CoroutineBox.DefaultCoroutine();
        box.BeginAwait();
        return new CoroutineAwaiter(box);
    }

    /// <inheritdoc/>
    public override string ToString() => Box is null ? "<coroutine (default)>" : $"<coroutine object {Box.CoroutineName}>";
}

/// <summary>The result type of coroutines and tasks that return nothing.</summary>
internal readonly struct VoidResult
{
}

/// <summary>Awaiter for <see cref="Coroutine{T}"/>.</summary>
/// <typeparam name="T">The result type.</typeparam>
public readonly struct CoroutineAwaiter<T> : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly CoroutineBox<T> box;

    internal CoroutineAwaiter(CoroutineBox<T> box) => this.box = box;

    /// <summary>Whether the coroutine has finished.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => box.IsDone;
    }

    /// <summary>Returns the coroutine's result or throws its exception.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public T GetResult() => box.GetResultAfterWait();

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) => box.AwaitedBy(continuation);

    void ILoopAwaiter.OnSuspend(AioTask frame) => box.AwaitedBy(frame);
}

/// <summary>Awaiter for <see cref="Coroutine"/>.</summary>
public readonly struct CoroutineAwaiter : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly CoroutineBox<VoidResult> box;

    internal CoroutineAwaiter(CoroutineBox<VoidResult> box) => this.box = box;

    /// <summary>Whether the coroutine has finished.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => box.IsDone;
    }

    /// <summary>Throws the coroutine's exception, if any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GetResult() => box.ThrowIfUnsuccessful();

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) => box.AwaitedBy(continuation);

    void ILoopAwaiter.OnSuspend(AioTask frame) => box.AwaitedBy(frame);
}

/// <summary>Non-generic helpers for coroutine boxes.</summary>
internal static class CoroutineBox
{
    public static InvalidOperationException DefaultCoroutine() =>
        new("This Coroutine is the default value of its type: it was never returned by an async Coroutine method.");
}

/// <summary>
/// The async state machine's box for a Kettle coroutine. It is a frame while awaited inline and the
/// task itself once scheduled: one allocation either way.
/// </summary>
internal abstract class CoroutineBox<T> : AioTask<T>
{
    /// <summary>An await of this coroutine: run it now, inside the current task (or as a task of its
    /// own when no Kettle task is running, e.g. from a plain callback).</summary>
    // Hot path: compiled fully optimized at first call. Tiered compilation would run it unoptimized for the
    // first ~100 ms of a burst, which is most of a short one (see docs/performance.md, "Warm-up").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void BeginAwait()
    {
        if (status != StatusCold)
        {
            throw new InvalidOperationException(
                $"Coroutine '{CoroutineName}' was already awaited or scheduled; a coroutine runs once (call the method again for a new one).");
        }
        DismissColdReport();
        var l = EventLoop.RunningOnThisThread
            ?? throw new InvalidOperationException(
                $"Awaiting coroutine '{CoroutineName}' needs a running Kettle event loop on this thread; start one with Aio.Run.");
        var task = l.currentTask;
        if (task is null)
        {
            l.ScheduleTask(this, null);
            return;
        }
        l.ForgetFresh(this);
        status = StatusInline;
        loop = l;
        // As a plain async method call: AsyncLocal changes made by the callee do not leak to the caller.
        var saved = ExecutionContext.Capture();
        ResumeCore();
        // When the coroutine suspended loop-natively at the base context and the caller runs in it too, nothing
        // needs capturing. The caller is not necessarily a coroutine that suspends in turn, so the step's end must
        // not rely on this suspension: back to unknown.
        var state = l.suspendContextState;
        l.suspendContextState = EventLoop.ContextUnknown;
        if (saved is not null && !(state == EventLoop.SuspendedAtBase && ReferenceEquals(saved, l.baseContext))
            && !ReferenceEquals(ExecutionContext.Capture(), saved))
        {
            ExecutionContext.Restore(saved);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void DismissColdReport()
    {
        if (extras?.Report is { } r)
        {
            extras.Report = null;
            r.Dismiss();
        }
    }

    /// <summary>Whoever awaits this coroutine suspends until it finishes.</summary>
    /// <summary>A Kettle frame awaits this coroutine (typed: no class test on the hot path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void AwaitedBy(AioTask frame)
    {
        if (id != 0)
        {
            SuspendUntilDone(frame.OwnerTask, frame);
            return;
        }
        Debug.Assert(resumeFrame is null, "An inline coroutine has one awaiter.");
        resumeFrame = frame;
    }

    /// <summary>A foreign continuation (a plain async method's) awaits this coroutine.</summary>
    internal void AwaitedBy(Action continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        if (id != 0)
        {
            AioTaskAwaiter.AwaitTask(this, continuation);
            return;
        }
        Debug.Assert(resumeFrame is null, "An inline coroutine has one awaiter.");
        resumeFrame = new ActionFrame(continuation);
    }

    /// <summary>The builder hit a foreign awaitable (Task, socket...): hand it a continuation that comes back to the loop.</summary>
    internal void SuspendForeign<TAwaiter>(ref TAwaiter awaiter)
        where TAwaiter : INotifyCompletion
    {
        // Kept in the extras, not in the box: most frames only await loop-native things, and every byte of the
        // box counts a million times over when a million tasks wait.
        var x = Extras;
        x.ForeignOwner = OwnerTask;
        var action = x.ForeignResume ??= OnForeignResume;
        if (awaiter is ICriticalNotifyCompletion)
        {
            ((ICriticalNotifyCompletion)awaiter).UnsafeOnCompleted(action);
        }
        else
        {
            awaiter.OnCompleted(action);
        }
    }

    /// <summary>
    /// A foreign awaitable finished. Through the loop's SynchronizationContext this arrives on the loop
    /// thread between steps, and the frame resumes at once; from any other thread (ConfigureAwait(false),
    /// a custom awaiter) it is queued back onto the loop, so Kettle code never leaves the loop thread.
    /// </summary>
    private void OnForeignResume()
    {
        var task = extras!.ForeignOwner!;
        var l = task.loop!;
        if (l.IsOnLoopThread && l.currentTask is null)
        {
            task.BeginStep(l);
            task.waitTarget = null;
            // A pending cancel request stays a must-cancel: the foreign awaiter's GetResult cannot throw
            // it, so the next Kettle await delivers it at once (AfterSuspend), or the task ends cancelled
            // if it returns first (asyncio's __step does the same with _must_cancel).
            try
            {
                RunFrame(this, l);
            }
            finally
            {
                task.EndStep(l);
            }
            return;
        }
        task.resumeFrame = this;
        if (l.IsOnLoopThread)
        {
            l.Ready.Enqueue(task);
        }
        else if (!l.TryEnqueueThreadsafe(task))
        {
            l.CallExceptionHandler(new LoopExceptionContext(
                $"Coroutine '{CoroutineName}' resumed after its event loop closed; it cannot continue.", null)
            { Task = task });
        }
    }
}

/// <summary>The box specialised for one compiler-generated state machine.</summary>
internal sealed class CoroutineBox<TStateMachine, T> : CoroutineBox<T>
    where TStateMachine : IAsyncStateMachine
{
    private static readonly string MethodName = ParseMethodName(typeof(TStateMachine));

    internal TStateMachine StateMachine = default!;

    internal override string CoroutineName => MethodName;

    internal override Type? StateMachineType => typeof(TStateMachine);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal override void ResumeCore() => StateMachine.MoveNext();

    private static string ParseMethodName(Type t) => MethodNames.FromStateMachine(t);
}
