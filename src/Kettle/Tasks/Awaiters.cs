using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>A foreign continuation (from a plain async method) standing as a task's resume point.</summary>
internal sealed class ActionFrame : IFrame
{
    private readonly Action action;

    public ActionFrame(Action action) => this.action = action;

    public void ResumeFrame() => action();
}

/// <summary>Shared suspension logic for Kettle awaiters, for both Kettle frames and foreign builders.</summary>
internal static class Suspend
{
    /// <summary>For a foreign builder's continuation: the running task and a frame for the action, or
    /// null when no Kettle task is running (then the action is simply queued when the wait ends).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static AioTask? CurrentTaskFor(string what, out EventLoop loop)
    {
        loop = EventLoop.RunningOnThisThread
            ?? throw new InvalidOperationException($"{what} needs a running Kettle event loop on this thread (start one with Aio.Run).");
        return loop.currentTask;
    }
}

/// <summary>Awaiter for <see cref="AioTask"/>. Kettle awaits it without allocating.</summary>
public readonly struct AioTaskAwaiter : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly AioTask task;

    internal AioTaskAwaiter(AioTask task) => this.task = task;

    /// <summary>Whether the task is done.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => task.IsDone;
    }

    /// <summary>Throws the task's exception, or <see cref="CancelledException"/> if it was cancelled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GetResult()
    {
        AioTask.ThrowIfCancelDelivered();
        task.ThrowIfUnsuccessful();
    }

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) => AwaitTask(task, continuation);

    void ILoopAwaiter.OnSuspend(AioTask frame) => task.SuspendUntilDone(frame.OwnerTask, frame);

    internal static void AwaitTask(AioTask task, Action continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var current = Suspend.CurrentTaskFor("Awaiting a Kettle task", out var loop);
        if (current is not null && current.loop == task.loop)
        {
            task.SuspendUntilDone(current, new ActionFrame(continuation));
        }
        else if (task.IsDone)
        {
            loop.Ready.Enqueue(new Handle(loop, continuation, null));
        }
        else
        {
            task.AddWaiter(continuation);
        }
    }
}

/// <summary>Awaiter for <see cref="AioTask{T}"/>. Kettle awaits it without allocating.</summary>
/// <typeparam name="T">The result type.</typeparam>
public readonly struct AioTaskAwaiter<T> : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly AioTask<T> task;

    internal AioTaskAwaiter(AioTask<T> task) => this.task = task;

    /// <summary>Whether the task is done.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => task.IsDone;
    }

    /// <summary>Returns the result; throws the task's exception, or <see cref="CancelledException"/> if it was cancelled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public T GetResult()
    {
        AioTask.ThrowIfCancelDelivered();
        return task.GetResultAfterWait();
    }

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) => AioTaskAwaiter.AwaitTask(task, continuation);

    void ILoopAwaiter.OnSuspend(AioTask frame) => task.SuspendUntilDone(frame.OwnerTask, frame);
}

/// <summary>
/// What <see cref="Aio.Sleep(double)"/> and <see cref="Aio.Yield"/> return: awaiting it suspends the
/// current task. asyncio counterpart: <c>asyncio.sleep(delay)</c>; a zero delay is a bare yield
/// (<c>sleep(0)</c>). A cancellation point.
/// </summary>
public readonly struct SleepAwaitable
{
    private readonly long ticks;

    internal SleepAwaitable(long ticks) => this.ticks = ticks;

    /// <summary>Gets the awaiter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public SleepAwaiter GetAwaiter() => new(ticks);
}

/// <summary>Awaiter for <see cref="SleepAwaitable"/>.</summary>
public readonly struct SleepAwaiter : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly long ticks;

    internal SleepAwaiter(long ticks) => this.ticks = ticks;

    /// <summary>Always false: even a zero sleep yields to the loop once.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => false;
    }

    /// <summary>Ends the sleep; throws <see cref="CancelledException"/> if the task was cancelled meanwhile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GetResult() => AioTask.ThrowIfCancelDelivered();

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var current = Suspend.CurrentTaskFor("Aio.Sleep", out var loop);
        if (current is null)
        {
            if (ticks <= 0)
            {
                loop.Ready.Enqueue(new Handle(loop, continuation, null));
            }
            else
            {
                loop.CallLater(TimeSpan.FromTicks(ticks), continuation);
            }
            return;
        }
        SleepCore(current, new ActionFrame(continuation), ticks);
    }

    void ILoopAwaiter.OnSuspend(AioTask frame) => SleepCore(frame.OwnerTask, frame, ticks);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SleepCore(AioTask task, IFrame frame, long ticks)
    {
        var loop = task.loop!;
        task.resumeFrame = frame;
        if (ticks <= 0)
        {
            task.waitTarget = YieldWait.Instance;
            loop.Ready.Enqueue(task);
        }
        else
        {
            int token = ++task.sleepToken;
            task.waitTarget = SleepWait.Instance;
            loop.Timers.Add(loop.Now + ticks, task, token);
        }
        task.AfterSuspend();
    }
}

/// <summary>What <see cref="Aio.Sleep{T}(double, T)"/> returns: a sleep that then gives back a value.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public readonly struct SleepAwaitable<T>
{
    private readonly long ticks;
    private readonly T value;

    internal SleepAwaitable(long ticks, T value)
    {
        this.ticks = ticks;
        this.value = value;
    }

    /// <summary>Gets the awaiter.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public SleepAwaiter<T> GetAwaiter() => new(ticks, value);
}

/// <summary>Awaiter for <see cref="SleepAwaitable{T}"/>.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public readonly struct SleepAwaiter<T> : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly long ticks;
    private readonly T value;

    internal SleepAwaiter(long ticks, T value)
    {
        this.ticks = ticks;
        this.value = value;
    }

    /// <summary>Always false.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => false;
    }

    /// <summary>Returns the value; throws <see cref="CancelledException"/> if the task was cancelled meanwhile.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public T GetResult()
    {
        AioTask.ThrowIfCancelDelivered();
        return value;
    }

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) => new SleepAwaiter(ticks).UnsafeOnCompleted(continuation);

    void ILoopAwaiter.OnSuspend(AioTask frame) => SleepAwaiter.SleepCore(frame.OwnerTask, frame, ticks);
}

/// <summary>A task sleeping on its timer entry: cancelling invalidates the entry and wakes it with CancelledException.</summary>
internal sealed class SleepWait : IWaitTarget
{
    public static readonly SleepWait Instance = new();

    public bool CancelWait(AioTask waiter, string? message)
    {
        waiter.sleepToken++;
        waiter.loop!.Timers.NoteCancelled();
        waiter.waitTarget = null;
        waiter.DeliverCancelNow();
        return true;
    }
}

/// <summary>A task that yielded is already queued: there is no wait to cancel.</summary>
internal sealed class YieldWait : IWaitTarget
{
    public static readonly YieldWait Instance = new();

    /// <summary>Returns false, so the request stays a must-cancel that the task's next step delivers
    /// at the yield; until then <see cref="AioTask.Uncancel"/> can still withdraw it (asyncio: sleep(0)
    /// leaves no future to cancel, and uncancel() to 0 clears _must_cancel).</summary>
    public bool CancelWait(AioTask waiter, string? message) => false;
}
