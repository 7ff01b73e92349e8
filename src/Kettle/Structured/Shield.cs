namespace Kettle;

public static partial class Aio
{
    /// <summary>
    /// Protects <paramref name="task"/> from the cancellation of whoever awaits it: cancelling the returned
    /// awaitable (or the task awaiting it) cancels only that outer wait, and the inner task keeps running.
    /// asyncio counterpart: <c>asyncio.shield(aw)</c>.
    /// </summary>
    /// <remarks>
    /// If <paramref name="task"/> is already done it is returned itself. An inner task that fails after the
    /// outer wait was cancelled is reported as never retrieved, unless someone reads it.
    /// </remarks>
    public static AioTask<T> Shield<T>(AioTask<T> task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task.IsDone)
        {
            return task;
        }
        var outer = new Future<T>(task.loop);
        // asyncio: inner.add_done_callback(_inner_done_callback), then outer.add_done_callback(_outer_done_callback);
        // one link object stands for both callbacks (and for the awaited-by record of the current task).
        var link = new ShieldLink<T>(task, outer, EventLoop.RunningOnThisThread?.currentTask);
        task.AddWaiter(link);
        outer.AddWaiter(link);
        return outer;
    }

    /// <summary>Schedules <paramref name="coroutine"/> as a task and shields it; see <see cref="Shield{T}(AioTask{T})"/>.</summary>
    public static AioTask<T> Shield<T>(Coroutine<T> coroutine) => Shield(GetRunningLoop().CreateTask(coroutine));
}

/// <summary>
/// A shield's two done callbacks in one object, the waiter of both the inner task and the outer future: each end
/// queues the link on the loop (as a done callback is queued), and each run handles the oldest end not handled yet.
/// While it waits for the inner task, call graphs read it as the awaiting task's record (asyncio's
/// <c>future_add_to_awaited_by(inner, current)</c>).
/// </summary>
/// <remarks>Threading: loop thread only; call graphs read <see cref="Inner"/> and <see cref="Awaiter"/> from any thread.</remarks>
internal abstract class ShieldLink
{
    private protected ShieldLink(AioTask inner, AioTask? awaiter)
    {
        Inner = inner;
        Awaiter = awaiter;
    }

    /// <summary>The shielded task.</summary>
    internal AioTask Inner { get; }

    /// <summary>The task that called Shield, if any: it awaits <see cref="Inner"/> for call graphs.</summary>
    internal AioTask? Awaiter { get; }
}

/// <summary>The link of a shield of an <see cref="AioTask{T}"/>; see <see cref="ShieldLink"/>.</summary>
/// <typeparam name="T">The result type.</typeparam>
/// <remarks>Threading: loop thread only.</remarks>
internal sealed class ShieldLink<T> : ShieldLink, IChildWatcher, IReadyItem
{
    private const byte InnerEnded = 1;
    private const byte OuterEnded = 2;

    private readonly Future<T> outer;
    // The ends queued and not handled yet, oldest first (each side ends once: two at most).
    private byte firstQueued;
    private byte secondQueued;

    public ShieldLink(AioTask<T> inner, Future<T> outer, AioTask? awaiter)
        : base(inner, awaiter)
    {
        this.outer = outer;
    }

    void IChildWatcher.OnChildDone(AioTask child)
    {
        byte end = ReferenceEquals(child, Inner) ? InnerEnded : OuterEnded;
        if (firstQueued == 0)
        {
            firstQueued = end;
        }
        else
        {
            secondQueued = end;
        }
        child.loop!.Ready.Enqueue(this);
    }

    void IReadyItem.RunReady()
    {
        byte end = firstQueued;
        firstQueued = secondQueued;
        secondQueued = 0;
        try
        {
            if (end == InnerEnded)
            {
                OnInnerDone();
            }
            else
            {
                OnOuterDone();
            }
        }
        catch (Exception ex)
        {
            outer.loop!.CallExceptionHandler(new LoopExceptionContext("Exception in callback of Aio.Shield", ex) { Task = Inner });
        }
    }

    /// <summary>asyncio's <c>_inner_done_callback</c>.</summary>
    private void OnInnerDone()
    {
        if (outer.IsCancelled)
        {
            return; // Nobody waits any more; an exception stays unretrieved (and is reported).
        }
        var inner = Inner;
        if (inner.IsCancelled)
        {
            outer.Cancel();
        }
        else if (inner.IsFaulted)
        {
            outer.SetException(inner.Exception!);
        }
        else
        {
            outer.SetResult(((AioTask<T>)inner).result!);
        }
    }

    /// <summary>asyncio's <c>_outer_done_callback</c>: the awaited-by record goes, and so does the inner callback.</summary>
    private void OnOuterDone()
    {
        if (!Inner.IsDone)
        {
            Inner.RemoveWaiter(this);
        }
    }
}
