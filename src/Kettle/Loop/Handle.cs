using System.Diagnostics;

namespace Kettle;

/// <summary>
/// A callback scheduled on the loop by <see cref="EventLoop.CallSoon(Action)"/> or
/// <see cref="EventLoop.CallSoonThreadsafe(Action)"/>; it can be cancelled until it runs.
/// asyncio counterpart: <c>asyncio.Handle</c>.
/// </summary>
/// <remarks>
/// Threading: <see cref="Cancel"/> and <see cref="Cancelled"/> belong to the loop thread.
/// An exception thrown by the callback does not stop the loop: it goes to the loop's exception handler.
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public class Handle : IReadyItem
{
    private readonly Delegate callback;
    private readonly object? state;
    private protected readonly EventLoop loop;
    private bool cancelled;

    internal Handle(EventLoop loop, Delegate callback, object? state)
    {
        this.loop = loop;
        this.callback = callback;
        this.state = state;
    }

    /// <summary>Whether <see cref="Cancel"/> was called.</summary>
    public bool Cancelled => cancelled;

    /// <summary>Cancels the callback; it will not run if it has not run yet. Idempotent.</summary>
    public virtual void Cancel() => cancelled = true;

    void IReadyItem.RunReady()
    {
        if (cancelled)
        {
            return;
        }
        try
        {
            switch (callback)
            {
                case Action a:
                    a();
                    break;
                case SendOrPostCallback s:
                    s(state);
                    break;
                case Action<object?> o:
                    o(state);
                    break;
                default:
                    callback.DynamicInvoke(state);
                    break;
            }
        }
        catch (Exception ex)
        {
            loop.CallExceptionHandler(new LoopExceptionContext($"Exception in callback {Describe()}", ex) { Handle = this });
        }
    }

    private string Describe() => callback.Method.DeclaringType is { } t ? $"{t.Name}.{callback.Method.Name}" : callback.Method.Name;

    /// <inheritdoc/>
    public override string ToString() => $"<Handle {Describe()}{(cancelled ? " cancelled" : "")}>";
}

/// <summary>
/// A callback scheduled for a loop time by <see cref="EventLoop.CallLater(TimeSpan, Action)"/> or
/// <see cref="EventLoop.CallAt(double, Action)"/>. asyncio counterpart: <c>asyncio.TimerHandle</c>.
/// </summary>
/// <remarks>Threading: loop thread only.</remarks>
public sealed class TimerHandle : Handle, ITimerTarget
{
    private readonly long due;

    internal TimerHandle(EventLoop loop, long due, Delegate callback, object? state)
        : base(loop, callback, state)
    {
        this.due = due;
    }

    /// <summary>The loop time, in seconds, at which the callback is due (see <see cref="EventLoop.Time"/>).</summary>
    public double When => EventLoop.TicksToSeconds(due);

    /// <inheritdoc/>
    public override void Cancel()
    {
        if (!Cancelled)
        {
            base.Cancel();
            loop.Timers.NoteCancelled();
        }
    }

    bool ITimerTarget.IsTimerLive(int token) => !Cancelled;

    void ITimerTarget.OnTimerDue(int token, EventLoop loop) => loop.Ready.Enqueue(this);

    /// <inheritdoc/>
    public override string ToString() => $"<TimerHandle when={When:0.###}{(Cancelled ? " cancelled" : "")}>";
}

/// <summary>What the loop's exception handler is told. asyncio counterpart: the handler's context dict.</summary>
/// <param name="Message">What happened, in a sentence.</param>
/// <param name="Exception">The exception, when there is one.</param>
public sealed record LoopExceptionContext(string Message, Exception? Exception)
{
    /// <summary>The task concerned, if any.</summary>
    public AioTask? Task { get; init; }

    /// <summary>The callback handle concerned, if any.</summary>
    public Handle? Handle { get; init; }

    /// <summary>Where the object concerned was created (debug mode only).</summary>
    public string? SourceTrace { get; init; }
}
