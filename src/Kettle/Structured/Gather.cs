namespace Kettle;

public static partial class Aio
{
    /// <summary>
    /// Runs the coroutines as tasks concurrently and returns their results in argument order, whatever
    /// order they finish in. asyncio counterpart: <c>asyncio.gather(*aws)</c>.
    /// </summary>
    /// <remarks>
    /// <list type="bullet">
    /// <item>The first child that fails (or is cancelled) fails the gather at once with that exception;
    /// the other children keep running, as in asyncio. When the others should be cancelled on failure,
    /// use a TaskGroup instead.</item>
    /// <item>Cancelling the gather (or the task awaiting it) cancels every child; once they have all
    /// finished, the gather ends cancelled.</item>
    /// <item>The same coroutine or task passed twice runs once; its result appears at each position.</item>
    /// </list>
    /// </remarks>
    public static AioTask<T[]> Gather<T>(params Coroutine<T>[] coroutines)
    {
        ArgumentNullException.ThrowIfNull(coroutines);
        var loop = GetRunningLoop();
        var tasks = new AioTask<T>[coroutines.Length];
        for (int i = 0; i < coroutines.Length; i++)
        {
            var box = coroutines[i].Box ?? throw CoroutineBox.DefaultCoroutine();
            // ensure_future: a coroutine passed twice is wrapped once.
            tasks[i] = box.status == AioTask.StatusCold ? loop.CreateTask(coroutines[i]) : ReferenceEquals(box.owner, box) ? box
                : throw new InvalidOperationException($"Coroutine '{box.CoroutineName}' is already being awaited; it cannot also be gathered.");
        }
        return new GatherFuture<T>(loop, tasks);
    }

    /// <summary>Waits for the tasks and returns their results in argument order; see <see cref="Gather{T}(Coroutine{T}[])"/>.</summary>
    public static AioTask<T[]> Gather<T>(params AioTask<T>[] tasks)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        var loop = GetRunningLoop();
        foreach (var t in tasks)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tasks));
            if (t.loop != loop)
            {
                throw new ArgumentException($"Task '{t.Name}' belongs to another event loop.", nameof(tasks));
            }
        }
        return new GatherFuture<T>(loop, (AioTask<T>[])tasks.Clone());
    }

    /// <summary>Runs the coroutines concurrently and returns their results in order; see <see cref="Gather{T}(Coroutine{T}[])"/>.</summary>
    public static AioTask<T[]> Gather<T>(IEnumerable<Coroutine<T>> coroutines) => Gather(coroutines?.ToArray()!);
}

/// <summary>
/// The future <see cref="Aio.Gather{T}(Coroutine{T}[])"/> returns. asyncio counterpart: <c>_GatheringFuture</c>.
/// It is not a task of its own (it runs no code and is not in all_tasks); it finishes from its children's
/// done callbacks, which are queued on the loop like every completion.
/// </summary>
/// <remarks>Threading: loop thread only.</remarks>
internal sealed class GatherFuture<T> : AioTask<T[]>, IChildWatcher
{
    private readonly AioTask<T>[] children;
    private int remaining;
    private bool cancelRequested;

    public GatherFuture(EventLoop loop, AioTask<T>[] children)
    {
        this.loop = loop;
        owner = this;
        status = StatusPending;
        flags = FlagStarted;
        this.children = children;
        // Count distinct children (the same task passed twice is watched once), marking as we go.
        var distinct = new List<AioTask>(children.Length);
        foreach (var c in children)
        {
            if ((c.flags & FlagMarked) == 0)
            {
                c.flags |= FlagMarked;
                distinct.Add(c);
            }
        }
        foreach (var c in distinct)
        {
            c.flags &= unchecked((byte)~FlagMarked);
        }
        remaining = distinct.Count;
        if (remaining == 0)
        {
            result = [];
            FinishTask(StatusSucceeded, null);
            return;
        }
        foreach (var c in distinct)
        {
            if (c.IsDone)
            {
                OnChildDone(c);
            }
            else
            {
                c.AddWaiter(this);
            }
        }
    }

    internal override string CoroutineName => "gather";

    internal override void ResumeCore() => throw new InvalidOperationException("A gather future has no code to run.");

    public void OnChildDone(AioTask child)
    {
        remaining--;
        if (IsDone)
        {
            // The gather already failed: later failures are marked retrieved, so nothing is logged twice.
            child.MarkRetrieved();
            return;
        }
        if (child.IsFaulted || child.IsCancelled)
        {
            var ex = child.IsCancelled ? child.MakeCancelled() : child.error!;
            child.MarkRetrieved();
            // The outer future is done with that exception, not cancelled (asyncio sets it as an exception).
            FinishTask(StatusFaulted, ex);
            return;
        }
        if (remaining > 0)
        {
            return;
        }
        if (cancelRequested)
        {
            // As asyncio: the outer future fails with CancelledError (it is not itself marked cancelled).
            FinishTask(StatusFaulted, new CancelledException(extras?.CancelMessage));
            return;
        }
        var values = new T[children.Length];
        for (int i = 0; i < children.Length; i++)
        {
            values[i] = children[i].result!;
        }
        result = values;
        FinishTask(StatusSucceeded, null);
    }

    /// <summary>Cancelling the gather cancels every child; it ends cancelled once they all finished.</summary>
    internal override bool CancelCore(string? message)
    {
        if (IsDone)
        {
            return false;
        }
        bool any = false;
        foreach (var c in children)
        {
            if (c.CancelCore(message))
            {
                any = true;
            }
        }
        if (any)
        {
            cancelRequested = true;
            Extras.CancelMessage = message;
        }
        return any;
    }
}
