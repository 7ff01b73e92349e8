using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace Kettle;

/// <summary>
/// <c>await foreach</c> over a <see cref="AioQueue{T}"/>: each MoveNextAsync takes an item as <see cref="AioQueue{T}.Get"/>
/// does and ends (false) once the queue is shut down and empty. Its ValueTask is backed by this object, so a
/// wait allocates only the waiter; the wait sits in the queue's getter line like any getter.
/// </summary>
/// <remarks>
/// Threading: loop thread only. A ValueTask is a foreign awaitable to Kettle, so a task cancellation reaches the
/// wait through the task's CancellationToken (registered for the wait), as does <c>WithCancellation</c>'s token;
/// the registration callbacks hop to the loop when they run elsewhere.
/// </remarks>
internal sealed class QueueEnumerator<T> : IAsyncEnumerator<T>, IValueTaskSource<bool>, IWaiterOwner
{
    private readonly AioQueue<T> queue;
    private readonly CancellationToken token;
    private readonly Action resumeAction;
    private T current = default!;
    private Waiter? waiter;
    private AioTask? waitingTask;
    private CancellationTokenRegistration userRegistration;
    private CancellationTokenRegistration taskRegistration;
    private Action<object?>? continuation;
    private object? continuationState;
    private Exception? error;
    private bool result;
    private bool completed;
    private short version;

    public QueueEnumerator(AioQueue<T> queue, CancellationToken token)
    {
        this.queue = queue;
        this.token = token;
        resumeAction = OnWaitEnded;
    }

    public T Current => current;

    public ValueTask<bool> MoveNextAsync()
    {
        queue.CheckThread("Queue enumerator MoveNextAsync");
        if (waiter is not null)
        {
            throw new InvalidOperationException("MoveNextAsync was called while a previous call is still waiting.");
        }
        token.ThrowIfCancellationRequested();
        if (queue.HasItems)
        {
            current = queue.GetNowaitCore();
            return new ValueTask<bool>(true);
        }
        if (queue.IsShutDownCore)
        {
            current = default!;
            return new ValueTask<bool>(false);
        }
        var loop = Aio.GetRunningLoop();
        version++;
        completed = false;
        error = null;
        continuation = null;
        continuationState = null;
        waiter = Waiter.SuspendCallback(this, queue.Getters, AioQueue<T>.GetterRole, loop, resumeAction);
        waitingTask = loop.currentTask;
        if (token.CanBeCanceled)
        {
            userRegistration = token.UnsafeRegister(static (s, _) => ((QueueEnumerator<T>)s!).CancelFromToken(false), this);
        }
        if (waitingTask is not null)
        {
            taskRegistration = waitingTask.CancellationToken.UnsafeRegister(static (s, _) => ((QueueEnumerator<T>)s!).CancelFromToken(true), this);
        }
        return new ValueTask<bool>(this, version);
    }

    private void CancelFromToken(bool fromTask)
    {
        var w = waiter;
        if (w is null)
        {
            return;
        }
        if (w.Loop.IsOnLoopThread)
        {
            CancelOnLoop(w, fromTask);
        }
        else
        {
            CancelFromOtherThread(w, fromTask);
        }
    }

    // The closure is made here, not in CancelFromToken: there the compiler allocated it on entry, on every call,
    // though a cancel on the loop thread never needs it.
    private void CancelFromOtherThread(Waiter w, bool fromTask)
    {
        try
        {
            w.Loop.CallSoonThreadsafe(() => CancelOnLoop(w, fromTask));
        }
        catch (InvalidOperationException)
        {
            // The loop is closed: nothing waits any more.
        }
    }

    private void CancelOnLoop(Waiter w, bool fromTask)
    {
        if (ReferenceEquals(waiter, w) && w.CancelCallback())
        {
            error = fromTask ? new CancelledException(null) : new OperationCanceledException(token);
        }
    }

    bool IWaiterOwner.OnResume(Waiter w, bool cancelling)
    {
        queue.Getters.Remove(w);
        if (cancelling)
        {
            return true;
        }
        if (!queue.HasItems && !queue.IsShutDownCore)
        {
            // An item was taken by someone who did not wait: wait again, at the end of the line.
            w.Resuspend(queue.Getters);
            return false;
        }
        if (queue.HasItems)
        {
            current = queue.GetNowaitCore();
            result = true;
        }
        else
        {
            current = default!;
            result = false;
        }
        return true;
    }

    private void OnWaitEnded()
    {
        waiter = null;
        waitingTask = null;
        userRegistration.Dispose();
        taskRegistration.Dispose();
        completed = true;
        var c = continuation;
        continuation = null;
        c?.Invoke(continuationState);
    }

    public ValueTask DisposeAsync()
    {
        if (waiter is { } w)
        {
            queue.CheckThread("Queue enumerator DisposeAsync");
            waiter = null;
            w.State = Waiter.Cancelled;
            queue.Getters.Remove(w);
            userRegistration.Dispose();
            taskRegistration.Dispose();
        }
        return default;
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token)
    {
        CheckVersion(token);
        return !completed ? ValueTaskSourceStatus.Pending
            : error is null ? ValueTaskSourceStatus.Succeeded
            : error is OperationCanceledException ? ValueTaskSourceStatus.Canceled
            : ValueTaskSourceStatus.Faulted;
    }

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        CheckVersion(token);
        if (completed)
        {
            continuation(state);
            return;
        }
        Debug.Assert(this.continuation is null, "One continuation per wait.");
        this.continuation = continuation;
        continuationState = state;
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        CheckVersion(token);
        if (!completed)
        {
            throw new InvalidOperationException("The queue enumerator's wait has not finished.");
        }
        if (error is { } e)
        {
            error = null;
            if (e is CancelledException)
            {
                // The task's cancellation was delivered here: do not deliver it again at the next Kettle await.
                throw AioTask.TakeCancelDelivery() ?? e;
            }
            throw e;
        }
        return result;
    }

    private void CheckVersion(short token)
    {
        if (token != version)
        {
            throw new InvalidOperationException("This ValueTask was already consumed: await a MoveNextAsync result once.");
        }
    }
}
