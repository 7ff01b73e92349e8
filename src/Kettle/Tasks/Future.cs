namespace Kettle;

/// <summary>
/// A result that is set later, by callback-style code, and awaited by tasks. asyncio counterpart:
/// <c>asyncio.Future</c> (<c>loop.create_future()</c>).
/// </summary>
/// <typeparam name="T">The result type.</typeparam>
/// <remarks>
/// <list type="bullet">
/// <item>Awaiting it suspends the task until it is done; cancelling the waiting task cancels the future.</item>
/// <item>Waiters and done callbacks are queued when it completes, never run inline.</item>
/// <item>Setting a result twice, or on a cancelled future, throws <see cref="InvalidOperationException"/>
/// (asyncio's InvalidStateError); the <c>Try</c> forms return false instead.</item>
/// </list>
/// <para>Threading: loop thread only. From another thread, use <see cref="EventLoop.CallSoonThreadsafe(Action)"/>.</para>
/// </remarks>
public sealed class Future<T> : AioTask<T>
{
    /// <summary>Creates a pending future on the running loop (or on <paramref name="loop"/>).</summary>
    public Future(EventLoop? loop = null)
    {
        this.loop = loop ?? Aio.GetRunningLoop();
        status = StatusPending;
        flags = FlagStarted;
    }

    /// <summary>Told when the future is cancelled while pending, before it completes (e.g. to drop queued work).</summary>
    internal Action? OnCancelRequested;

    /// <summary>The name shown in reports (the function behind it, for executor work).</summary>
    internal string? DisplayName;

    internal override string CoroutineName => DisplayName ?? "Future";

    internal override bool IsPlainFuture => true;

    internal override void ResumeCore() => throw new InvalidOperationException("A future has no code to run.");

    /// <summary>Completes the future with <paramref name="value"/>. asyncio: <c>set_result</c>.</summary>
    public void SetResult(T value)
    {
        if (!TrySetResult(value))
        {
            throw new InvalidOperationException($"Invalid state: the future is already {(IsCancelled ? "cancelled" : "done")}.");
        }
    }

    /// <summary>Completes the future with <paramref name="value"/> unless it is done; returns whether it did.</summary>
    public bool TrySetResult(T value)
    {
        CheckLoopThread(nameof(SetResult));
        if (IsDone)
        {
            return false;
        }
        result = value;
        FinishTask(StatusSucceeded, null);
        return true;
    }

    /// <summary>Fails the future with <paramref name="exception"/>. asyncio: <c>set_exception</c>.</summary>
    public void SetException(Exception exception)
    {
        if (!TrySetException(exception))
        {
            throw new InvalidOperationException($"Invalid state: the future is already {(IsCancelled ? "cancelled" : "done")}.");
        }
    }

    /// <summary>Fails the future unless it is done; returns whether it did.</summary>
    public bool TrySetException(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        CheckLoopThread(nameof(SetException));
        if (IsDone)
        {
            return false;
        }
        FinishTask(exception is CancelledException ? StatusCancelled : StatusFaulted, exception);
        return true;
    }

    /// <summary>A future is cancelled at once: it has no code that could catch it.</summary>
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
        OnCancelRequested?.Invoke();
        FinishTask(StatusCancelled, new CancelledException(message));
        return true;
    }

    /// <summary>Cancels the future unless it is done (for subclasses whose CancelCore does more).</summary>
    internal bool TryCancelFuture() => CancelCore(null);

    /// <inheritdoc/>
    public override string ToString() => $"<Future {(IsDone ? IsCancelled ? "cancelled" : IsFaulted ? "finished exception=" + error?.GetType().Name : "finished" : "pending")}>";
}

public static partial class Aio
{
    /// <summary>Creates a pending <see cref="Future{T}"/> on the running loop. asyncio counterpart: <c>loop.create_future()</c>.</summary>
    public static Future<T> CreateFuture<T>() => new(GetRunningLoop());
}
