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
        int counter = set.Count;
        var waiter = new Future<bool>(loop);
        Handle? timeoutHandle = timeout is { } s ? loop.CallLater(s, () => waiter.TrySetResult(false)) : null;
        Action<AioTask> onCompletion = f =>
        {
            counter--;
            if (counter <= 0 || returnWhen == ReturnWhen.FirstCompleted || (returnWhen == ReturnWhen.FirstException && f.IsFaulted))
            {
                timeoutHandle?.Cancel();
                waiter.TrySetResult(true);
            }
        };
        var current = loop.currentTask;
        foreach (var t in set)
        {
            t.AddDoneCallback(onCompletion);
            t.AddAwaitedBy(current);
        }
        try
        {
            await waiter;
        }
        finally
        {
            timeoutHandle?.Cancel();
            foreach (var t in set)
            {
                t.RemoveDoneCallback(onCompletion);
                t.RemoveAwaitedBy(current);
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
/// Tasks in completion order: see <see cref="Aio.AsCompleted{T}(IEnumerable{AioTask{T}}, double?)"/>.
/// asyncio counterpart: the iterator <c>asyncio.as_completed</c> returns.
/// </summary>
/// <typeparam name="T">The tasks' result type.</typeparam>
/// <remarks>Threading: loop thread only. Its <c>await foreach</c> enumerator awaits with Kettle awaits (cancellation
/// points, virtual time), not through ValueTask.</remarks>
public sealed class AsCompleted<T> : IEnumerable<Coroutine<T>>
{
    private readonly EventLoop loop;
    private readonly Queue<AioTask<T>> done = new();
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
        Action<AioTask> onDone = t =>
        {
            if (timedOut)
            {
                // asyncio removes its callbacks at the deadline: what was still pending then stays a timeout,
                // even if it finishes before the consumer asks.
                return;
            }
            done.Enqueue((AioTask<T>)t);
            WakeAll(true);
        };
        foreach (var t in set)
        {
            t.AddDoneCallback(onDone);
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
        var t = await NextDone();
        return await t;
    }

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
            Current = await owner.NextDone();
            owner.handedOut++;
            return true;
        }
    }
}
