using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Kettle;

/// <summary>
/// A FIFO queue for tasks of one event loop, bounded (<c>maxSize &gt; 0</c>) or unbounded.
/// asyncio counterpart: <c>asyncio.Queue</c> (with 3.13's <c>shutdown</c>).
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
/// <remarks>
/// <para>Semantics, as asyncio's:</para>
/// <list type="bullet">
/// <item><see cref="Put"/> waits while the queue is full, <see cref="Get"/> while it is empty; each completes
/// without suspending (and without allocating) when it need not wait. Waiting putters and getters are woken one
/// at a time in FIFO order, by a get and a put respectively. A woken task re-checks the queue when it resumes:
/// a task that did not wait may have taken the room or the item first (asyncio does not reserve it), and then the
/// woken task waits again, at the end of the line.</item>
/// <item>A waiting task that is cancelled loses nothing: if it had been woken and the queue can still serve the
/// next waiter, that waiter is woken instead.</item>
/// <item>Every put counts an unfinished task; <see cref="TaskDone"/> counts one finished; <see cref="Join"/> waits
/// until none is unfinished.</item>
/// <item><see cref="Shutdown"/>: puts then fail with <see cref="QueueShutDownException"/>; gets drain what is
/// left, then fail. <c>immediate</c> also drops the items still queued (each counted as done) and so releases
/// <see cref="Join"/> if every unfinished item was still queued. All waiting putters and getters are woken.</item>
/// <item><c>await foreach</c> yields items until the queue is shut down and empty (see <see cref="GetAsyncEnumerator"/>).</item>
/// </list>
/// <para>Threading: loop thread only. It belongs to the loop running when it is created, or else to the first loop
/// that uses it (before that, it may be filled and inspected on any single thread); while that loop runs, any other
/// thread gets <see cref="InvalidOperationException"/>.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public class AioQueue<T> : IWaiterOwner, IAsyncEnumerable<T>
{
    internal const byte GetterRole = 1;
    internal const byte PutterRole = 2;

    private readonly ItemStore<T> store;
    // The plain FIFO store, called directly (no virtual call) on the hot path; null for priority and LIFO queues.
    private readonly FifoStore<T>? fifo;
    private readonly int maxSize;
    // The number of items stored, kept here so the hot path reads a field (every change to the store goes through AddItem/TakeItem).
    private int count;
    internal readonly WaiterList Getters = new();
    internal readonly WaiterList PuttersList = new();
    // Invariant: set exactly when unfinished == 0.
    private readonly AioEvent finished = new(set: true);
    // Bound at creation inside a running loop, else by the first loop that uses it.
    private EventLoop? loop = EventLoop.RunningOnThisThread;
    private int unfinished;
    private bool shutdown;

    /// <summary>Creates a queue holding at most <paramref name="maxSize"/> items; zero or less means unbounded.</summary>
    public AioQueue(int maxSize = 0)
        : this(maxSize, new FifoStore<T>())
    {
    }

    private protected AioQueue(int maxSize, ItemStore<T> store)
    {
        this.maxSize = maxSize;
        this.store = store;
        fifo = store as FifoStore<T>;
    }

    /// <summary>The capacity; zero or less means unbounded. asyncio: <c>maxsize</c>.</summary>
    public int MaxSize => maxSize;

    /// <summary>How many items are queued. asyncio: <c>qsize()</c>.</summary>
    public int Count
    {
        get
        {
            CheckThread("Queue.Count");
            return count;
        }
    }

    /// <summary>How many items are queued (the same as <see cref="Count"/>). asyncio counterpart: <c>qsize()</c>.</summary>
    public int Qsize()
    {
        CheckThread("Queue.Qsize");
        return count;
    }

    /// <summary>Whether no item is queued. asyncio: <c>empty()</c>.</summary>
    public bool IsEmpty
    {
        get
        {
            CheckThread("Queue.IsEmpty");
            return count == 0;
        }
    }

    /// <summary>Whether the queue holds <see cref="MaxSize"/> items (never, when unbounded). asyncio: <c>full()</c>.</summary>
    public bool IsFull
    {
        get
        {
            CheckThread("Queue.IsFull");
            return FullCore;
        }
    }

    /// <summary>Whether <see cref="Shutdown"/> was called.</summary>
    public bool IsShutDown
    {
        get
        {
            CheckThread("Queue.IsShutDown");
            return shutdown;
        }
    }

    private bool FullCore => maxSize > 0 && count >= maxSize;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void AddItem(T item)
    {
        if (fifo is not null)
        {
            fifo.Add(item);
        }
        else
        {
            store.Add(item);
        }
        count++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private T TakeItem()
    {
        count--;
        return fifo is not null ? fifo.Take() : store.Take();
    }

    internal bool HasItems => count > 0;

    internal bool IsShutDownCore => shutdown;

    internal void CheckThread(string operation) => LoopAffinity.Check(ref loop, this, operation);

    /// <summary>
    /// Puts <paramref name="item"/>, waiting while the queue is full. A cancellation point when it waits; a
    /// cancelled put puts nothing. asyncio counterpart: <c>await queue.put(item)</c>.
    /// </summary>
    /// <exception cref="QueueShutDownException">The queue is shut down (also when it happens during the wait).</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public QueuePutAwaitable<T> Put(T item)
    {
        CheckThread("Queue.Put");
        return new QueuePutAwaitable<T>(this, item, !FullCore || shutdown);
    }

    /// <summary>
    /// Takes the next item, waiting while the queue is empty. A cancellation point when it waits; a cancelled get
    /// takes nothing. asyncio counterpart: <c>await queue.get()</c>.
    /// </summary>
    /// <exception cref="QueueShutDownException">The queue is shut down and empty (also when it happens during the wait).</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public QueueGetAwaitable<T> Get()
    {
        CheckThread("Queue.Get");
        return new QueueGetAwaitable<T>(this, count > 0 || shutdown);
    }

    /// <summary>Puts <paramref name="item"/> without waiting and wakes the first waiting getter. asyncio: <c>put_nowait</c>.</summary>
    /// <exception cref="QueueShutDownException">The queue is shut down.</exception>
    /// <exception cref="QueueFullException">The queue is full.</exception>
    public void PutNowait(T item)
    {
        CheckThread("Queue.PutNowait");
        PutNowaitCore(item);
    }

    // Hot path: compiled fully optimized at first call. Tiered compilation would run it unoptimized for the
    // first ~100 ms of a burst, which is most of a short one (see docs/performance.md, "Warm-up").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void PutNowaitCore(T item)
    {
        if (shutdown)
        {
            throw new QueueShutDownException();
        }
        if (FullCore)
        {
            throw new QueueFullException();
        }
        AddItem(item);
        unfinished++;
        finished.ClearCore();
        Getters.PopAndWakeNext();
    }

    /// <summary>Takes the next item without waiting and wakes the first waiting putter. asyncio: <c>get_nowait</c>.</summary>
    /// <exception cref="QueueShutDownException">The queue is empty and shut down.</exception>
    /// <exception cref="QueueEmptyException">The queue is empty.</exception>
    public T GetNowait()
    {
        CheckThread("Queue.GetNowait");
        return GetNowaitCore();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal T GetNowaitCore()
    {
        if (count == 0)
        {
            if (shutdown)
            {
                throw new QueueShutDownException();
            }
            throw new QueueEmptyException();
        }
        var item = TakeItem();
        PuttersList.PopAndWakeNext();
        return item;
    }

    /// <summary>Tells the queue that an item taken from it has been processed; at zero unfinished items,
    /// <see cref="Join"/> returns. asyncio counterpart: <c>task_done()</c>.</summary>
    /// <exception cref="InvalidOperationException">Called more times than items were put ("TaskDone() called too many times").</exception>
    public void TaskDone()
    {
        CheckThread("Queue.TaskDone");
        if (unfinished <= 0)
        {
            throw new InvalidOperationException("TaskDone() called too many times");
        }
        unfinished--;
        if (unfinished == 0)
        {
            finished.SetCore();
        }
    }

    /// <summary>Waits until every item put has been marked done with <see cref="TaskDone"/>; completes at once if
    /// none is unfinished. A cancellation point when it waits. asyncio counterpart: <c>await queue.join()</c>.</summary>
    public WaitAwaitable Join()
    {
        CheckThread("Queue.Join");
        return finished.Wait();
    }

    /// <summary>
    /// Shuts the queue down: puts fail from now on; gets drain the items left, then fail. With
    /// <paramref name="immediate"/>, the items left are dropped (each counted done, which releases <see cref="Join"/>
    /// when no taken item is still unfinished). Wakes every waiting putter and getter.
    /// asyncio counterpart: <c>shutdown(immediate=False)</c> (3.13+).
    /// </summary>
    public void Shutdown(bool immediate = false)
    {
        CheckThread("Queue.Shutdown");
        shutdown = true;
        if (immediate)
        {
            while (count > 0)
            {
                TakeItem();
                if (unfinished > 0)
                {
                    unfinished--;
                }
            }
            if (unfinished == 0)
            {
                finished.SetCore();
            }
        }
        // Every getter re-checks: they get the items left, or QueueShutDownException once it is empty.
        Getters.PopAndWakeAll();
        PuttersList.PopAndWakeAll();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    bool IWaiterOwner.OnResume(Waiter waiter, bool cancelling)
    {
        var list = waiter.Role == GetterRole ? Getters : PuttersList;
        if (cancelling)
        {
            list.Remove(waiter);
            // Woken but leaving: pass the wake-up on if the queue can still serve the next in line
            // (test_put_cancelled_race, test_get_cancel_drop_one_pending_reader).
            bool canServe = waiter.Role == GetterRole ? count > 0 : !FullCore;
            if (canServe && waiter.State != Waiter.Cancelled)
            {
                list.PopAndWakeNext();
            }
            return true;
        }
        bool mustWait = waiter.Role == GetterRole ? count == 0 : FullCore;
        if (mustWait && !shutdown)
        {
            // Someone that did not wait took the item or the room first: wait again, at the end of the line.
            waiter.Resuspend(list);
            return false;
        }
        return true;
    }

    /// <summary>
    /// Returns an enumerator that takes items (as <see cref="Get"/>) until the queue is shut down and empty.
    /// Loop only: <c>await foreach</c> it inside a Kettle coroutine or task on the queue's loop. Cancelling the
    /// enumerating task (or <paramref name="cancellationToken"/>) ends a wait with an exception; an item already
    /// handed to the enumerator is never lost.
    /// </summary>
    public IAsyncEnumerator<T> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        CheckThread("Queue.GetAsyncEnumerator");
        return new QueueEnumerator<T>(this, cancellationToken);
    }

    /// <summary>"&lt;Queue maxsize=0 _queue=[1, 2] tasks=2&gt;", as asyncio's repr.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("<").Append(LoopAffinity.NameOf(this));
        sb.Append(CultureInfo.InvariantCulture, $" maxsize={maxSize}");
        if (count > 0)
        {
            sb.Append(" _queue=[").AppendJoin(", ", store.Items).Append(']');
        }
        if (Getters.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $" _getters[{Getters.Count}]");
        }
        if (PuttersList.Count > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $" _putters[{PuttersList.Count}]");
        }
        if (unfinished > 0)
        {
            sb.Append(CultureInfo.InvariantCulture, $" tasks={unfinished}");
        }
        if (shutdown)
        {
            sb.Append(" shutdown");
        }
        return sb.Append('>').ToString();
    }
}

/// <summary>
/// A priority queue: <see cref="AioQueue{T}.Get"/> returns the smallest item first (a binary min-heap ordered by
/// the given comparer, or <see cref="Comparer{T}.Default"/>). asyncio counterpart: <c>asyncio.PriorityQueue</c>.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
/// <remarks>Threading: loop thread only. Items that compare equal come out in no particular order (as heapq's).</remarks>
public sealed class AioPriorityQueue<T> : AioQueue<T>
{
    /// <summary>Creates a priority queue; <paramref name="maxSize"/> zero or less means unbounded.</summary>
    public AioPriorityQueue(int maxSize = 0, IComparer<T>? comparer = null)
        : base(maxSize, new HeapStore<T>(comparer))
    {
    }
}

/// <summary>A LIFO queue: <see cref="AioQueue{T}.Get"/> returns the item put last. asyncio counterpart: <c>asyncio.LifoQueue</c>.</summary>
/// <typeparam name="T">The item type.</typeparam>
/// <remarks>Threading: loop thread only.</remarks>
public sealed class AioLifoQueue<T> : AioQueue<T>
{
    /// <summary>Creates a LIFO queue; <paramref name="maxSize"/> zero or less means unbounded.</summary>
    public AioLifoQueue(int maxSize = 0)
        : base(maxSize, new LifoStore<T>())
    {
    }
}
