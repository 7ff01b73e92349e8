using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>A primitive whose waits go through <see cref="AcquireAwaitable"/> or <see cref="WaitAwaitable"/>.</summary>
internal interface IWaitSource : IWaiterOwner
{
    WaiterList Waiters { get; }

    /// <summary>"AioLock.Acquire" and the like, for error messages.</summary>
    string WaitName { get; }

    /// <summary>A cancellation was delivered at an await that completed without suspending: give back what it took.</summary>
    void UndoFastPath();

    /// <summary>What <see cref="Releaser.Dispose"/> does.</summary>
    void ReleaseFromScope();
}

/// <summary>
/// What <see cref="AioLock.Acquire"/>, <see cref="AioSemaphore.Acquire"/> and <see cref="AioCondition.Acquire"/> return.
/// Awaiting it acquires; its result is a <see cref="Releaser"/>, so <c>using (await l.Acquire()) { ... }</c> is
/// asyncio's <c>async with l:</c>. It completes without suspending when the primitive is free and nobody queues
/// (no allocation); otherwise it is a cancellation point.
/// </summary>
/// <remarks>Threading: loop thread only. Await it once, right away.</remarks>
public readonly struct AcquireAwaitable : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly IWaitSource source;
    private readonly bool acquired;

    internal AcquireAwaitable(IWaitSource source, bool acquired)
    {
        this.source = source;
        this.acquired = acquired;
    }

    /// <summary>Gets the awaiter (the awaitable itself).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AcquireAwaitable GetAwaiter() => this;

    /// <summary>Whether it was acquired without waiting.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => acquired;
    }

    /// <summary>Ends the wait: returns the scope that releases; throws <see cref="CancelledException"/> if the task
    /// was cancelled while waiting (then nothing is held).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public Releaser GetResult()
    {
        if (AioTask.TakeCancelDelivery() is { } cancelled)
        {
            // Woken waiters were already undone by the owner's OnResume; only the fast path took something here.
            if (acquired)
            {
                source.UndoFastPath();
            }
            throw cancelled;
        }
        return new Releaser(source);
    }

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) =>
        Waiter.SuspendForeign(source, source.Waiters, 0, continuation, source.WaitName);

    void ILoopAwaiter.OnSuspend(AioTask frame) => Waiter.SuspendTask(source, source.Waiters, 0, frame.OwnerTask, frame);
}

/// <summary>
/// What <see cref="AioEvent.Wait"/> and <see cref="AioQueue{T}.Join"/> return. It completes without suspending when
/// there is nothing to wait for; otherwise it is a cancellation point.
/// </summary>
/// <remarks>Threading: loop thread only. Await it once, right away.</remarks>
public readonly struct WaitAwaitable : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly IWaitSource source;
    private readonly bool completed;

    internal WaitAwaitable(IWaitSource source, bool completed)
    {
        this.source = source;
        this.completed = completed;
    }

    /// <summary>Gets the awaiter (the awaitable itself).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public WaitAwaitable GetAwaiter() => this;

    /// <summary>Whether there was nothing to wait for.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => completed;
    }

    /// <summary>Ends the wait; throws <see cref="CancelledException"/> if the task was cancelled while waiting.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GetResult() => AioTask.ThrowIfCancelDelivered();

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) =>
        Waiter.SuspendForeign(source, source.Waiters, 0, continuation, source.WaitName);

    void ILoopAwaiter.OnSuspend(AioTask frame) => Waiter.SuspendTask(source, source.Waiters, 0, frame.OwnerTask, frame);
}

/// <summary>
/// Releases what an <see cref="AcquireAwaitable"/> acquired when disposed: <c>using (await l.Acquire()) { ... }</c>.
/// asyncio counterpart: leaving <c>async with</c>. Dispose it once.
/// </summary>
public readonly struct Releaser : IDisposable
{
    private readonly IWaitSource? source;

    internal Releaser(IWaitSource source) => this.source = source;

    /// <summary>Releases the lock or semaphore.</summary>
    // Not compiled optimized at first call: tiered compilation's profile lets an optimized caller turn the interface
    // call into a direct, inlined one (the lock's or the semaphore's release), which code without a profile cannot.
    public void Dispose() => source?.ReleaseFromScope();
}
