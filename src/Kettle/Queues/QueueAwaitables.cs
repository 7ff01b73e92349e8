using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>What <see cref="AioQueue{T}.Put"/> returns: awaiting it puts the item, waiting while the queue is full.</summary>
/// <typeparam name="T">The item type.</typeparam>
/// <remarks>Threading: loop thread only. Await it once, right away.</remarks>
public readonly struct QueuePutAwaitable<T> : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly AioQueue<T> queue;
    private readonly T item;
    private readonly bool ready;

    internal QueuePutAwaitable(AioQueue<T> queue, T item, bool ready)
    {
        this.queue = queue;
        this.item = item;
        this.ready = ready;
    }

    /// <summary>Gets the awaiter (the awaitable itself).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public QueuePutAwaitable<T> GetAwaiter() => this;

    /// <summary>Whether the put can happen without waiting.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => ready;
    }

    /// <summary>Puts the item; throws <see cref="CancelledException"/> if the task was cancelled while waiting
    /// (nothing is put) and <see cref="QueueShutDownException"/> if the queue is shut down.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void GetResult()
    {
        if (!ready)
        {
            // Only a wait can have a cancellation delivered at this await.
            AioTask.ThrowIfCancelDelivered();
        }
        queue.PutNowaitCore(item);
    }

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) =>
        Waiter.SuspendForeign(queue, queue.PuttersList, AioQueue<T>.PutterRole, continuation, "Queue.Put");

    void ILoopAwaiter.OnSuspend(AioTask frame) => Waiter.SuspendTask(queue, queue.PuttersList, AioQueue<T>.PutterRole, frame.OwnerTask, frame);
}

/// <summary>What <see cref="AioQueue{T}.Get"/> returns: awaiting it takes an item, waiting while the queue is empty.</summary>
/// <typeparam name="T">The item type.</typeparam>
/// <remarks>Threading: loop thread only. Await it once, right away.</remarks>
public readonly struct QueueGetAwaitable<T> : ICriticalNotifyCompletion, ILoopAwaiter
{
    private readonly AioQueue<T> queue;
    private readonly bool ready;

    internal QueueGetAwaitable(AioQueue<T> queue, bool ready)
    {
        this.queue = queue;
        this.ready = ready;
    }

    /// <summary>Gets the awaiter (the awaitable itself).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public QueueGetAwaitable<T> GetAwaiter() => this;

    /// <summary>Whether the get can happen without waiting.</summary>
    public bool IsCompleted
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => ready;
    }

    /// <summary>Takes the item; throws <see cref="CancelledException"/> if the task was cancelled while waiting
    /// (nothing is taken) and <see cref="QueueShutDownException"/> if the queue is shut down and empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public T GetResult()
    {
        if (!ready)
        {
            // Only a wait can have a cancellation delivered at this await.
            AioTask.ThrowIfCancelDelivered();
        }
        return queue.GetNowaitCore();
    }

    /// <inheritdoc/>
    public void OnCompleted(Action continuation) => UnsafeOnCompleted(continuation);

    /// <inheritdoc/>
    public void UnsafeOnCompleted(Action continuation) =>
        Waiter.SuspendForeign(queue, queue.Getters, AioQueue<T>.GetterRole, continuation, "Queue.Get");

    void ILoopAwaiter.OnSuspend(AioTask frame) => Waiter.SuspendTask(queue, queue.Getters, AioQueue<T>.GetterRole, frame.OwnerTask, frame);
}
