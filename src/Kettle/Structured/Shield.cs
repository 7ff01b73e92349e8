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
        Action<AioTask>? innerDone = null;
        innerDone = inner =>
        {
            if (outer.IsCancelled)
            {
                return; // Nobody waits any more; an exception stays unretrieved (and is reported).
            }
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
        };
        task.AddDoneCallback(innerDone);
        var current = EventLoop.RunningOnThisThread?.currentTask;
        task.AddAwaitedBy(current);
        outer.AddDoneCallback(_ =>
        {
            task.RemoveAwaitedBy(current);
            if (!task.IsDone)
            {
                task.RemoveDoneCallback(innerDone);
            }
        });
        return outer;
    }

    /// <summary>Schedules <paramref name="coroutine"/> as a task and shields it; see <see cref="Shield{T}(AioTask{T})"/>.</summary>
    public static AioTask<T> Shield<T>(Coroutine<T> coroutine) => Shield(GetRunningLoop().CreateTask(coroutine));
}
