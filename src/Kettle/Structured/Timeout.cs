using System.Globalization;
using System.Runtime.ExceptionServices;

namespace Kettle;

/// <summary>
/// A deadline for a block of code: when it passes, the block's task is cancelled at its current await, and
/// that cancellation comes out of the block as <see cref="TimeoutException"/>. asyncio counterpart:
/// <c>asyncio.Timeout</c> (what <c>asyncio.timeout()</c> / <c>timeout_at()</c> return).
/// </summary>
/// <remarks>
/// <code>
/// await Aio.Timeout(10, async scope =>
/// {
///     await Connect();
///     scope.Reschedule(Aio.GetRunningLoop().Time + 30);   // more time for the transfer
///     await Transfer();
/// });
/// </code>
/// <list type="bullet">
/// <item>Only the scope's own cancellation becomes <see cref="TimeoutException"/> (with the
/// <see cref="CancelledException"/> as its inner exception); a cancellation from elsewhere passes through as
/// <see cref="CancelledException"/>, and with nested scopes only the outermost expired one converts.</item>
/// <item>It works inside <c>finally</c> blocks that are already handling a cancellation: it snapshots the
/// task's <see cref="AioTask.Cancelling"/> count on entry and only undoes its own request.</item>
/// <item>The task is not left cancelled after the scope.</item>
/// <item>If the block swallows the cancellation and finishes, nothing is raised (<see cref="Expired"/> stays true).</item>
/// </list>
/// <para>Threading: loop thread only.</para>
/// </remarks>
public sealed class TimeoutScope : ITimerTarget, IReadyItem
{
    private enum State
    {
        Created,
        Active,
        Expiring,
        Expired,
        Finished,
    }

    // The deadline's timer is the scope itself (no delegate, no TimerHandle): an entry in the loop's timer heap
    // while the deadline is ahead, then queued on the loop like a due timer handle, then run (OnTimeout).
    private enum TimerState : byte
    {
        None,
        InHeap,
        Queued,
    }

    private readonly EventLoop loop;
    private State state;
    private double? when;
    private TimerState timerState;
    // Bumped to invalidate the heap entry when the deadline moves or the scope ends.
    private int timerToken;
    // Queued firings whose deadline was moved or dropped since: each comes before the live one, if any (FIFO).
    private int staleQueued;
    private AioTask? task;
    private int cancellingSnapshot;

    internal TimeoutScope(EventLoop loop, double? when)
    {
        this.loop = loop;
        this.when = when;
    }

    /// <summary>The deadline in loop time (seconds, as <see cref="EventLoop.Time"/>), or null for none. asyncio: <c>when()</c>.</summary>
    public double? When => when;

    /// <summary>Whether the deadline passed and cancelled the block. asyncio: <c>expired()</c>.</summary>
    public bool Expired => state is State.Expiring or State.Expired;

    /// <summary>Moves the deadline (null removes it); a deadline already past fires in the next iteration.
    /// asyncio counterpart: <c>reschedule(when)</c>.</summary>
    public void Reschedule(double? newWhen)
    {
        loop.CheckThread(nameof(Reschedule));
        if (state == State.Created)
        {
            throw new InvalidOperationException("Timeout has not been entered.");
        }
        if (state != State.Active)
        {
            throw new InvalidOperationException($"Cannot change state of {state.ToString().ToLowerInvariant()} Timeout.");
        }
        when = newWhen;
        CancelTimer();
        if (newWhen is { } w)
        {
            if (w <= loop.Time)
            {
                // A deadline already past fires in the next iteration, as asyncio's call_soon.
                timerState = TimerState.Queued;
                loop.Ready.Enqueue(this);
            }
            else
            {
                timerState = TimerState.InHeap;
                loop.Timers.Add(EventLoop.SecondsToTicks(w), this, timerToken);
            }
        }
    }

    /// <summary>Drops the deadline's timer (asyncio: <c>self._timeout_handler.cancel()</c>).</summary>
    private void CancelTimer()
    {
        switch (timerState)
        {
            case TimerState.InHeap:
                timerToken++;
                loop.Timers.NoteCancelled();
                break;
            case TimerState.Queued:
                staleQueued++;
                break;
        }
        timerState = TimerState.None;
    }

    bool ITimerTarget.IsTimerLive(int token) => token == timerToken && timerState == TimerState.InHeap;

    void ITimerTarget.OnTimerDue(int token, EventLoop l)
    {
        timerState = TimerState.Queued;
        l.Ready.Enqueue(this);
    }

    void IReadyItem.RunReady()
    {
        if (staleQueued > 0)
        {
            staleQueued--;
            return;
        }
        timerState = TimerState.None;
        try
        {
            OnTimeout();
        }
        catch (Exception ex)
        {
            loop.CallExceptionHandler(new LoopExceptionContext("Exception in callback TimeoutScope.OnTimeout", ex) { Task = task });
        }
    }

    /// <inheritdoc/>
    public override string ToString() => state switch
    {
        State.Active => $"<Timeout [active] when={(when is { } w ? w.ToString("0.###", CultureInfo.InvariantCulture) : "None")}>",
        _ => $"<Timeout [{state.ToString().ToLowerInvariant()}]>",
    };

    internal void Enter()
    {
        if (state != State.Created)
        {
            throw new InvalidOperationException("Timeout has already been entered.");
        }
        task = loop.currentTask ?? throw new InvalidOperationException("Timeout should be used inside a task.");
        state = State.Active;
        cancellingSnapshot = task.Cancelling();
        Reschedule(when);
    }

    private void OnTimeout()
    {
        if (state != State.Active)
        {
            return;
        }
        task!.Cancel();
        state = State.Expiring;
    }

    /// <summary>asyncio's <c>Timeout.__aexit__</c>: what to throw (null: nothing).</summary>
    internal Exception? Exit(Exception? error)
    {
        CancelTimer();
        if (state == State.Expiring)
        {
            state = State.Expired;
            // Decided before Uncancel: at zero it renews the task's CancellationToken, and a foreign API's
            // OperationCanceledException carries the old one.
            bool cancelled = error is not null && task!.IsCancellationOf(error);
            if (task!.Uncancel() <= cancellingSnapshot && cancelled)
            {
                return new TimeoutException(
                    $"The timeout expired (deadline: loop time {when?.ToString("0.###", CultureInfo.InvariantCulture) ?? "none"}).", error);
            }
        }
        else if (state == State.Active)
        {
            state = State.Finished;
        }
        return error;
    }

    internal static async Coroutine RunAsync(TimeoutScope scope, Func<TimeoutScope, Coroutine> body)
    {
        scope.Enter();
        Exception? error = null;
        try
        {
            await body(scope);
        }
        catch (Exception ex)
        {
            error = ex;
        }
        Rethrow(scope.Exit(error), error);
    }

    internal static async Coroutine<T> RunAsync<T>(TimeoutScope scope, Func<TimeoutScope, Coroutine<T>> body)
    {
        scope.Enter();
        Exception? error = null;
        T value = default!;
        try
        {
            value = await body(scope);
        }
        catch (Exception ex)
        {
            error = ex;
        }
        Rethrow(scope.Exit(error), error);
        return value;
    }

    private static void Rethrow(Exception? toThrow, Exception? original)
    {
        if (toThrow is null)
        {
            return;
        }
        if (ReferenceEquals(toThrow, original))
        {
            ExceptionDispatchInfo.Throw(toThrow);
        }
        throw toThrow;
    }
}

public static partial class Aio
{
    /// <summary>
    /// Runs <paramref name="body"/> inside the current task with a deadline <paramref name="seconds"/> from now
    /// (computed now, not when awaited; null: no deadline). On expiry the body is cancelled at its current await
    /// and <see cref="TimeoutException"/> is raised. asyncio counterpart: <c>async with asyncio.timeout(delay)</c>.
    /// </summary>
    public static Coroutine Timeout(double? seconds, Func<TimeoutScope, Coroutine> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var loop = GetRunningLoop();
        return TimeoutScope.RunAsync(new TimeoutScope(loop, seconds is { } s ? loop.Time + s : null), body);
    }

    /// <summary>As <see cref="Timeout(double?, Func{TimeoutScope, Coroutine})"/>, returning the body's result.</summary>
    public static Coroutine<T> Timeout<T>(double? seconds, Func<TimeoutScope, Coroutine<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        var loop = GetRunningLoop();
        return TimeoutScope.RunAsync(new TimeoutScope(loop, seconds is { } s ? loop.Time + s : null), body);
    }

    /// <summary>As <see cref="Timeout(double?, Func{TimeoutScope, Coroutine})"/> with a <see cref="TimeSpan"/>.</summary>
    public static Coroutine Timeout(TimeSpan delay, Func<TimeoutScope, Coroutine> body) => Timeout(delay.TotalSeconds, body);

    /// <summary>As <see cref="Timeout{T}(double?, Func{TimeoutScope, Coroutine{T}})"/> with a <see cref="TimeSpan"/>.</summary>
    public static Coroutine<T> Timeout<T>(TimeSpan delay, Func<TimeoutScope, Coroutine<T>> body) => Timeout(delay.TotalSeconds, body);

    /// <summary>Runs <paramref name="body"/> with a deadline at loop time <paramref name="when"/> (null: none).
    /// asyncio counterpart: <c>async with asyncio.timeout_at(when)</c>.</summary>
    public static Coroutine TimeoutAt(double? when, Func<TimeoutScope, Coroutine> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return TimeoutScope.RunAsync(new TimeoutScope(GetRunningLoop(), when), body);
    }

    /// <summary>As <see cref="TimeoutAt(double?, Func{TimeoutScope, Coroutine})"/>, returning the body's result.</summary>
    public static Coroutine<T> TimeoutAt<T>(double? when, Func<TimeoutScope, Coroutine<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return TimeoutScope.RunAsync(new TimeoutScope(GetRunningLoop(), when), body);
    }

    /// <summary>
    /// Awaits <paramref name="coroutine"/> (inside the current task, no new task) with a timeout; on expiry it is
    /// cancelled, its cancellation is waited for, and <see cref="TimeoutException"/> is raised. A timeout of zero
    /// or less schedules it, cancels it unless it is already done, and waits for it to finish.
    /// asyncio counterpart: <c>asyncio.wait_for(aw, timeout)</c> (3.12+).
    /// </summary>
    public static Coroutine<T> WaitFor<T>(Coroutine<T> coroutine, double? seconds)
    {
        _ = coroutine.Box ?? throw CoroutineBox.DefaultCoroutine();
        return WaitForCore(coroutine, seconds);
    }

    // asyncio's wait_for is an async def: the deadline is computed, and a zero-timeout coroutine scheduled,
    // when it starts running, not when it is called (a WaitFor made now and awaited later gets its full time).
    private static async Coroutine<T> WaitForCore<T>(Coroutine<T> coroutine, double? seconds)
    {
        if (seconds is null)
        {
            return await coroutine;
        }
        if (seconds <= 0)
        {
            return await WaitForNow(GetRunningLoop().CreateTask(coroutine));
        }
        return await TimeoutOver(coroutine, seconds);
    }

    // The body's closure is made here, not in WaitForCore: there the compiler allocated it when the method started,
    // whatever the timeout (a captured parameter's closure is made on entry), though only this path needs it.
    private static Coroutine<T> TimeoutOver<T>(Coroutine<T> coroutine, double? seconds) => Timeout(seconds, _ => coroutine);

    /// <summary>Awaits <paramref name="task"/> with a timeout; on expiry the task is cancelled, waited for, and
    /// <see cref="TimeoutException"/> is raised. Cancelling the caller cancels the task.</summary>
    public static Coroutine<T> WaitFor<T>(AioTask<T> task, double? seconds)
    {
        ArgumentNullException.ThrowIfNull(task);
        return WaitForCore(task, seconds);
    }

    // As for a coroutine: the deadline counts from when the wait starts.
    private static async Coroutine<T> WaitForCore<T>(AioTask<T> task, double? seconds)
    {
        if (seconds is null)
        {
            return await task;
        }
        if (seconds <= 0)
        {
            return await WaitForNow(task);
        }
        return await TimeoutOver(task, seconds);
    }

    // As for a coroutine: the closure made only on the path that needs it.
    private static Coroutine<T> TimeoutOver<T>(AioTask<T> task, double? seconds)
    {
        return Timeout(seconds, _ => Plain(task));

        static async Coroutine<T> Plain(AioTask<T> t) => await t;
    }

    /// <summary>Awaits <paramref name="coroutine"/> with a timeout given as a <see cref="TimeSpan"/>.</summary>
    public static Coroutine<T> WaitFor<T>(Coroutine<T> coroutine, TimeSpan timeout) => WaitFor(coroutine, timeout.TotalSeconds);

    /// <summary>Awaits <paramref name="task"/> with a timeout given as a <see cref="TimeSpan"/>.</summary>
    public static Coroutine<T> WaitFor<T>(AioTask<T> task, TimeSpan timeout) => WaitFor(task, timeout.TotalSeconds);

    private static async Coroutine<T> WaitForNow<T>(AioTask<T> task)
    {
        if (task.IsDone)
        {
            return task.Result;
        }
        task.Cancel();
        await WaitDone(task);
        try
        {
            return task.Result;
        }
        catch (CancelledException ex)
        {
            throw new TimeoutException("The timeout expired (timeout <= 0 and the awaitable was not done).", ex);
        }
    }

    /// <summary>Waits until <paramref name="task"/> is done, without raising what it raised.</summary>
    internal static async Coroutine WaitDone(AioTask task)
    {
        if (task.IsDone)
        {
            return;
        }
        await DoneFuture(task);
    }

    // A future set by a done callback of task's. The closure is made here: in WaitDone the compiler allocated it on
    // entry (a captured local's closure is made when its scope starts), even for a task already done.
    private static Future<bool> DoneFuture(AioTask task)
    {
        var done = new Future<bool>(task.loop);
        task.AddDoneCallback(_ => done.TrySetResult(true));
        return done;
    }
}
