namespace Kettle;

/// <summary>When <see cref="Aio.Wait{TTask}(IEnumerable{TTask}, double?, ReturnWhen)"/> returns.
/// asyncio counterpart: <c>FIRST_COMPLETED</c>, <c>FIRST_EXCEPTION</c>, <c>ALL_COMPLETED</c>.</summary>
public enum ReturnWhen
{
    /// <summary>When every task is done (or the timeout passes).</summary>
    AllCompleted = 0,

    /// <summary>When any task is done.</summary>
    FirstCompleted = 1,

    /// <summary>When any task fails with an exception other than cancellation; else when all are done.</summary>
    FirstException = 2,
}

/// <summary>What <see cref="Aio.Wait{TTask}(IEnumerable{TTask}, double?, ReturnWhen)"/> returns: the tasks that are done and those still pending.</summary>
/// <typeparam name="TTask">The task type.</typeparam>
/// <param name="Done">The tasks done when the wait returned.</param>
/// <param name="Pending">The tasks still pending.</param>
public readonly record struct WaitResult<TTask>(IReadOnlySet<TTask> Done, IReadOnlySet<TTask> Pending)
    where TTask : AioTask;

public static partial class Aio
{
    /// <summary>
    /// Waits until the condition <paramref name="returnWhen"/> holds or <paramref name="timeout"/> seconds pass,
    /// and returns which tasks are done and which are pending. It never raises the tasks' exceptions and never
    /// cancels them. asyncio counterpart: <c>asyncio.wait(fs, timeout=..., return_when=...)</c>.
    /// </summary>
    /// <exception cref="ArgumentException">No tasks were given.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="returnWhen"/> is not a defined value.</exception>
    public static Coroutine<WaitResult<TTask>> Wait<TTask>(IEnumerable<TTask> tasks, double? timeout = null, ReturnWhen returnWhen = ReturnWhen.AllCompleted)
        where TTask : AioTask
    {
        ArgumentNullException.ThrowIfNull(tasks);
        if (!Enum.IsDefined(returnWhen))
        {
            throw new ArgumentOutOfRangeException(nameof(returnWhen), returnWhen, $"Invalid return_when value: {returnWhen}.");
        }
        var set = new HashSet<TTask>(ReferenceEqualityComparer.Instance);
        foreach (var t in tasks)
        {
            set.Add(t ?? throw new ArgumentException("The tasks contain null.", nameof(tasks)));
        }
        if (set.Count == 0)
        {
            throw new ArgumentException("Set of Tasks/Futures is empty.", nameof(tasks));
        }
        return WaitCore(GetRunningLoop(), set, timeout, returnWhen);
    }

    private static async Coroutine<WaitResult<TTask>> WaitCore<TTask>(EventLoop loop, HashSet<TTask> set, double? timeout, ReturnWhen returnWhen)
        where TTask : AioTask
    {
        var waiter = new Future<bool>(loop);
        // One object for every task's done callback (queued on the loop per finished task, as asyncio's
        // _on_completion) and for the awaited-by records call graphs read: no closure, handle or record per task.
        var link = new WaitLink(waiter, set.Count, returnWhen, loop.currentTask);
        if (timeout is { } s)
        {
            link.ArmTimeout(loop, s);
        }
        foreach (var t in set)
        {
            if (t.IsDone)
            {
                ((IChildWatcher)link).OnChildDone(t); // queued now, as add_done_callback on a done task
            }
            else
            {
                t.AddWaiter(link);
            }
        }
        try
        {
            await waiter;
        }
        finally
        {
            link.CancelTimeout();
            foreach (var t in set)
            {
                if (!t.IsDone)
                {
                    t.RemoveWaiter(link);
                }
            }
        }
        var done = new HashSet<TTask>(ReferenceEqualityComparer.Instance);
        var pending = new HashSet<TTask>(ReferenceEqualityComparer.Instance);
        foreach (var t in set)
        {
            (t.IsDone ? done : pending).Add(t);
        }
        return new WaitResult<TTask>(done, pending);
    }

    /// <summary>
    /// The tasks in the order they finish. <c>await foreach</c> gives the tasks themselves; a plain <c>foreach</c>
    /// gives one awaitable per task, each returning the next result to arrive (or raising its exception). With a
    /// timeout, once it passes, the next wait raises <see cref="TimeoutException"/>; pending tasks are not cancelled.
    /// asyncio counterpart: <c>asyncio.as_completed(aws, timeout=...)</c> (3.13 form).
    /// </summary>
    public static AsCompleted<T> AsCompleted<T>(IEnumerable<AioTask<T>> tasks, double? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        return new AsCompleted<T>(GetRunningLoop(), tasks, timeout);
    }

    /// <summary>Schedules each coroutine as a task and yields them in completion order; see <see cref="AsCompleted{T}(IEnumerable{AioTask{T}}, double?)"/>.</summary>
    public static AsCompleted<T> AsCompleted<T>(IEnumerable<Coroutine<T>> coroutines, double? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(coroutines);
        var loop = GetRunningLoop();
        return new AsCompleted<T>(loop, coroutines.Select(c => loop.CreateTask(c)).ToList(), timeout);
    }
}

/// <summary>
/// The done callbacks of one <see cref="Aio.Wait{TTask}(IEnumerable{TTask}, double?, ReturnWhen)"/> (asyncio's
/// <c>_on_completion</c>), in one object: the waiter of each task, queued on the loop once per finished task, each
/// run handling the oldest end not handled yet. While it waits, call graphs read it as the awaiting task's record.
/// </summary>
/// <remarks>Threading: loop thread only; call graphs read <see cref="Awaiter"/> from any thread.</remarks>
internal sealed class WaitLink : IChildWatcher, IReadyItem
{
    private readonly Future<bool> waiter;
    private readonly ReturnWhen returnWhen;
    private int remaining;
    // Ends queued, ends handled, and which queued end (1-based) was the first failure: a task's outcome is final once
    // it is done, so it is read when the end is queued, and only the count of ends is kept.
    private int queued;
    private int handled;
    private int firstFailure;
    private TimerHandle? timeoutHandle;

    public WaitLink(Future<bool> waiter, int count, ReturnWhen returnWhen, AioTask? awaiter)
    {
        this.waiter = waiter;
        remaining = count;
        this.returnWhen = returnWhen;
        Awaiter = awaiter;
    }

    /// <summary>The task that waits, for call graphs (asyncio's <c>future_add_to_awaited_by</c>).</summary>
    internal AioTask? Awaiter { get; }

    public void ArmTimeout(EventLoop loop, double seconds) => timeoutHandle = loop.CallLater(seconds, OnTimeout);

    public void CancelTimeout() => timeoutHandle?.Cancel();

    private void OnTimeout() => waiter.TrySetResult(false);

    void IChildWatcher.OnChildDone(AioTask child)
    {
        queued++;
        if (firstFailure == 0 && child.IsFaulted)
        {
            firstFailure = queued;
        }
        waiter.loop!.Ready.Enqueue(this);
    }

    void IReadyItem.RunReady()
    {
        handled++;
        remaining--;
        if (remaining <= 0 || returnWhen == ReturnWhen.FirstCompleted || (returnWhen == ReturnWhen.FirstException && handled == firstFailure))
        {
            timeoutHandle?.Cancel();
            waiter.TrySetResult(true);
        }
    }
}

/// <summary>
/// Tasks in completion order: see <see cref="Aio.AsCompleted{T}(IEnumerable{AioTask{T}}, double?)"/>.
/// asyncio counterpart: the iterator <c>asyncio.as_completed</c> returns.
/// </summary>
/// <typeparam name="T">The tasks' result type.</typeparam>
/// <remarks>Threading: loop thread only. Its <c>await foreach</c> enumerator awaits with Kettle awaits (cancellation
/// points, virtual time), not through ValueTask.</remarks>
public sealed class AsCompleted<T> : IEnumerable<Coroutine<T>>, IChildWatcher, IReadyItem
{
    private readonly EventLoop loop;
    private readonly Queue<AioTask<T>> done = new();
    // Finished tasks whose done callback is queued (this object is each task's waiter, and is queued on the loop once
    // per finished task, as asyncio's call_soon of _handle_completion): no closure or handle per task.
    private readonly Queue<AioTask<T>> ended = new();
    private readonly int total;
    private int handedOut;
    // One future per pending NextDone: the awaitables of a plain foreach may be awaited concurrently (asyncio's
    // queue wakes each getter); a single shared field lost the first waiter's wake-up, and one shared future
    // would be cancelled for every waiter when one of them is cancelled.
    private readonly List<Future<bool>> waiters = new();
    private bool timedOut;

    internal AsCompleted(EventLoop loop, IEnumerable<AioTask<T>> tasks, double? timeout)
    {
        this.loop = loop;
        var set = new HashSet<AioTask<T>>(ReferenceEqualityComparer.Instance);
        foreach (var t in tasks)
        {
            set.Add(t ?? throw new ArgumentException("The tasks contain null.", nameof(tasks)));
        }
        total = set.Count;
        foreach (var t in set)
        {
            if (t.IsDone)
            {
                ((IChildWatcher)this).OnChildDone(t); // queued now, as add_done_callback on a done task
            }
            else
            {
                t.AddWaiter(this);
            }
        }
        if (timeout is { } s && total > 0)
        {
            loop.CallLater(s, () =>
            {
                timedOut = true;
                WakeAll(false);
            });
        }
    }

    void IChildWatcher.OnChildDone(AioTask child)
    {
        ended.Enqueue((AioTask<T>)child);
        loop.Ready.Enqueue(this);
    }

    /// <summary>The queued done callback of the oldest finished task not handled yet.</summary>
    void IReadyItem.RunReady()
    {
        var t = ended.Dequeue();
        if (timedOut)
        {
            // asyncio removes its callbacks at the deadline: what was still pending then stays a timeout,
            // even if it finishes before the consumer asks.
            return;
        }
        done.Enqueue(t);
        WakeAll(true);
    }

    /// <summary>The next task to finish (in completion order); throws <see cref="TimeoutException"/> once the timeout passed.</summary>
    internal async Coroutine<AioTask<T>> NextDone()
    {
        while (done.Count == 0)
        {
            if (timedOut)
            {
                throw new TimeoutException("as_completed: the timeout expired before every task finished.");
            }
            var waiter = new Future<bool>(loop);
            waiters.Add(waiter);
            try
            {
                await waiter;
            }
            finally
            {
                waiters.Remove(waiter);
            }
        }
        return done.Dequeue();
    }

    private void WakeAll(bool value)
    {
        foreach (var w in waiters)
        {
            w.TrySetResult(value);
        }
    }

    /// <summary>For <c>await foreach</c>: yields the tasks themselves, in completion order.</summary>
    public Enumerator GetAsyncEnumerator() => new(this);

    /// <summary>For a plain <c>foreach</c>: one awaitable per task, each giving the next result to arrive.</summary>
    public IEnumerator<Coroutine<T>> GetEnumerator()
    {
        for (int i = 0; i < total; i++)
        {
            yield return NextResult();
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    private async Coroutine<T> NextResult()
    {
        var t = TakeDoneOrNull() ?? await NextDone();
        return await t;
    }

    /// <summary>The next finished task if one is waiting to be handed out: what <see cref="NextDone"/> returns then,
    /// without suspending, taken without making its coroutine (a box per item).</summary>
    private AioTask<T>? TakeDoneOrNull() => done.Count > 0 ? done.Dequeue() : null;

    /// <summary>The <c>await foreach</c> enumerator of <see cref="AsCompleted{T}"/>.</summary>
    public sealed class Enumerator
    {
        private readonly AsCompleted<T> owner;

        internal Enumerator(AsCompleted<T> owner) => this.owner = owner;

        /// <summary>The task that finished.</summary>
        public AioTask<T> Current { get; private set; } = null!;

        /// <summary>Waits for the next task to finish; false when all have been given.</summary>
        public Coroutine<bool> MoveNextAsync() => Next();

        private async Coroutine<bool> Next()
        {
            if (owner.handedOut >= owner.total)
            {
                return false;
            }
            Current = owner.TakeDoneOrNull() ?? await owner.NextDone();
            owner.handedOut++;
            return true;
        }
    }
}
