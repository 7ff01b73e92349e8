using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>
/// The owner of a <see cref="WaiterList"/>: it runs, at the start of the waiter's next step, the code asyncio
/// runs right after <c>await fut</c> (its <c>finally</c> and <c>except</c> blocks).
/// </summary>
internal interface IWaiterOwner
{
    /// <summary>
    /// The waiter's task resumes. <paramref name="cancelling"/>: a CancelledException will be thrown at the await
    /// (asyncio: the <c>except CancelledError</c> path), whether the waiter was woken or not.
    /// Returns false when the owner suspended the waiter again (a queue that is still empty or full).
    /// </summary>
    bool OnResume(Waiter waiter, bool cancelling);
}

/// <summary>
/// One waiting task or continuation: the counterpart of the future asyncio appends to a primitive's deque.
/// It is the task's resume frame, so the owner's post-await logic runs before the user's code resumes, in the
/// same step (no extra loop iteration, as in asyncio where that logic is part of the awaiting coroutine).
/// </summary>
internal sealed class Waiter : IWaitTarget, IFrame, IReadyItem
{
    internal const byte Pending = 0;    // asyncio: future not done
    internal const byte Woken = 1;      // asyncio: future done with a result
    internal const byte Cancelled = 2;  // asyncio: future cancelled

    internal readonly IWaiterOwner Owner;
    internal readonly byte Role;
    internal EventLoop Loop;
    /// <summary>The suspended task, or null for a continuation queued without a Kettle task.</summary>
    internal AioTask? Task;
    /// <summary>Task: the user's frame to resume after the owner's logic.</summary>
    internal IFrame? Frame;
    /// <summary>No task: the continuation to run.</summary>
    internal readonly Action? Callback;
    /// <summary>Task waiter: the list it was made for, which takes it back once its task has resumed.</summary>
    private WaiterList? home;

    // Invariant: List is non-null exactly while the waiter is linked into that list.
    internal WaiterList? List;
    internal Waiter? Prev;
    internal Waiter? Next;
    internal byte State;

    private Waiter(IWaiterOwner owner, EventLoop loop, byte role, AioTask? task, IFrame? frame, Action? callback)
    {
        Owner = owner;
        Loop = loop;
        Role = role;
        Task = task;
        Frame = frame;
        Callback = callback;
    }

    /// <summary>Suspends <paramref name="task"/> (in <paramref name="frame"/>) at the end of <paramref name="list"/>.</summary>
    // Hot path: compiled fully optimized at first call. Tiered compilation would run it unoptimized for the
    // first ~100 ms of a burst, which is most of a short one (see docs/performance.md, "Warm-up").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SuspendTask(IWaiterOwner owner, WaiterList list, byte role, AioTask task, IFrame frame)
    {
        // A hand-off (queue, lock) suspends on every item: reusing the list's last finished waiter makes it allocate nothing.
        var w = list.Spare;
        var loop = task.loop!;
        if (w is not null && ReferenceEquals(w.Owner, owner) && w.Role == role)
        {
            list.Spare = null;
            // A spare keeps its loop and its home list (only its task and frame are let go): stores skipped when
            // they would not change anything cost no write barrier.
            if (!ReferenceEquals(w.Loop, loop))
            {
                w.Loop = loop;
            }
            w.Task = task;
            w.Frame = frame;
            if (!ReferenceEquals(w.home, list))
            {
                w.home = list;
            }
        }
        else
        {
            w = new Waiter(owner, loop, role, task, frame, null);
            w.home = list;
        }
        list.AddLast(w);
        task.resumeFrame = w;
        task.waitTarget = w;
        // A cancel requested earlier in this step reaches CancelWait now.
        task.AfterSuspend();
    }

    /// <summary>Queues a foreign continuation (no Kettle task running) at the end of <paramref name="list"/>.</summary>
    internal static Waiter SuspendCallback(IWaiterOwner owner, WaiterList list, byte role, EventLoop loop, Action callback)
    {
        var w = new Waiter(owner, loop, role, null, null, callback);
        list.AddLast(w);
        return w;
    }

    /// <summary>For an awaiter's UnsafeOnCompleted: suspends the running task, or queues the bare continuation.</summary>
    internal static void SuspendForeign(IWaiterOwner owner, WaiterList list, byte role, Action continuation, string what)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var current = Suspend.CurrentTaskFor(what, out var loop);
        if (current is not null)
        {
            SuspendTask(owner, list, role, current, new ActionFrame(continuation));
        }
        else
        {
            SuspendCallback(owner, list, role, loop, continuation);
        }
    }

    /// <summary>Waits again at the end of <paramref name="list"/> (asyncio: the next turn of a <c>while</c> loop
    /// around <c>await fut</c>, with a fresh future). Called from <see cref="IWaiterOwner.OnResume"/>.</summary>
    internal void Resuspend(WaiterList list)
    {
        Debug.Assert(List is null, "A resuspended waiter must have left its list.");
        State = Pending;
        list.AddLast(this);
        if (Task is { } t)
        {
            t.resumeFrame = this;
            t.waitTarget = this;
            t.AfterSuspend();
        }
    }

    /// <summary>asyncio's <c>fut.set_result(...)</c>: the waiter's task is queued (never resumed inline).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Wake()
    {
        Debug.Assert(State == Pending, "Only a pending waiter can be woken.");
        State = Woken;
        if (Task is { } t)
        {
            // A woken waiter can no longer be cancelled through its wait: a later cancel is delivered when it resumes.
            t.waitTarget = null;
            Loop.Ready.Enqueue(t);
        }
        else
        {
            Loop.Ready.Enqueue(this);
        }
    }

    /// <summary>Cancels a callback waiter (a foreign awaiter whose token was cancelled): it is queued to resume cancelled.</summary>
    internal bool CancelCallback()
    {
        if (State != Pending)
        {
            return false;
        }
        State = Cancelled;
        List?.NoteCancelled();
        Loop.Ready.Enqueue(this);
        return true;
    }

    bool IWaitTarget.CancelWait(AioTask waiter, string? message)
    {
        if (State != Pending)
        {
            // Already woken: the task core delivers the cancellation when the task resumes, and the owner undoes the grant.
            return false;
        }
        State = Cancelled;
        List?.NoteCancelled();
        waiter.waitTarget = null;
        waiter.DeliverCancelNow();
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IFrame.ResumeFrame() => ResumeAsFrame();

    /// <summary>Resumes the waiting frame if the owner agrees (<see cref="IWaiterOwner.OnResume"/>).</summary>
    // Left to tiered compilation: its profile turns the owner's interface call into a guarded direct one.
    internal void ResumeAsFrame()
    {
        var t = Task!;
        var frame = Frame!;
        var loop = Loop;
        if (Owner.OnResume(this, (t.flags & AioTask.FlagDeliverCancel) != 0))
        {
            if (List is null && home is { } h)
            {
                // Done: out of every list, and its task (which cleared resumeFrame and waitTarget when this step
                // began) no longer points at it, so nothing but its home list's spare slot reaches it. It lets its
                // task and frame go; its home stays (the list it belongs to anyway).
                Task = null;
                Frame = null;
                State = Pending;
                h.Spare = this;
            }
            AioTask.RunFrame(frame, loop);
        }
    }

    void IReadyItem.RunReady()
    {
        if (Owner.OnResume(this, State == Cancelled))
        {
            Callback!();
        }
    }
}

/// <summary>
/// A FIFO of waiters, doubly linked through the waiters themselves so that a waiter leaves it in O(1)
/// (asyncio's <c>deque.remove(fut)</c>). Cancelled waiters stay until their task resumes, as asyncio's futures do.
/// </summary>
internal sealed class WaiterList
{
    private Waiter? head;
    private Waiter? tail;
    private int count;
    private int cancelled;

    /// <summary>Waiters in the list, cancelled ones included (asyncio: <c>len(deque)</c>).</summary>
    public int Count => count;

    /// <summary>Waiters in the list that are not cancelled (pending or woken).</summary>
    public int LiveCount => count - cancelled;

    public Waiter? First => head;

    /// <summary>A finished task waiter kept for the next task that waits here (see <see cref="Waiter.SuspendTask"/>).</summary>
    internal Waiter? Spare;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void AddLast(Waiter w)
    {
        Debug.Assert(w.List is null, "A waiter is in one list at a time.");
        w.List = this;
        w.Prev = tail;
        w.Next = null;
        if (tail is null)
        {
            head = w;
        }
        else
        {
            tail.Next = w;
        }
        tail = w;
        count++;
        if (w.State == Waiter.Cancelled)
        {
            cancelled++;
        }
    }

    /// <summary>Removes <paramref name="w"/> if it is still linked here (it may have been popped by a wake-up).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Remove(Waiter w)
    {
        if (w.List != this)
        {
            return;
        }
        if (w.Prev is null)
        {
            head = w.Next;
        }
        else
        {
            w.Prev.Next = w.Next;
        }
        if (w.Next is null)
        {
            tail = w.Prev;
        }
        else
        {
            w.Next.Prev = w.Prev;
        }
        w.Prev = w.Next = null;
        w.List = null;
        count--;
        if (w.State == Waiter.Cancelled)
        {
            cancelled--;
        }
    }

    public Waiter? PopFirst()
    {
        var w = head;
        if (w is not null)
        {
            Remove(w);
        }
        return w;
    }

    internal void NoteCancelled() => cancelled++;

    /// <summary>Wakes the first pending waiter, dropping the done ones before it (asyncio queues' <c>_wakeup_next</c>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PopAndWakeNext()
    {
        while (PopFirst() is { } w)
        {
            if (w.State == Waiter.Pending)
            {
                w.Wake();
                return;
            }
        }
    }

    /// <summary>Wakes up to <paramref name="n"/> pending waiters in FIFO order, leaving them in the list; returns how many.</summary>
    public int WakePending(int n)
    {
        int woken = 0;
        for (var w = head; w is not null && woken < n; w = w.Next)
        {
            if (w.State == Waiter.Pending)
            {
                w.Wake();
                woken++;
            }
        }
        return woken;
    }

    /// <summary>Pops every waiter, waking the pending ones (asyncio's shutdown).</summary>
    public void PopAndWakeAll()
    {
        while (PopFirst() is { } w)
        {
            if (w.State == Waiter.Pending)
            {
                w.Wake();
            }
        }
    }
}

/// <summary>
/// Binds a primitive to the loop that first uses it (asyncio 3.10+'s <c>_LoopBoundMixin</c>) and keeps other
/// threads out: while its loop runs, only that loop's thread may touch the primitive.
/// </summary>
internal static class LoopAffinity
{
    /// <summary>Checks the caller may touch a primitive bound to <paramref name="bound"/>, binding it to the running loop if unbound.
    /// With no loop running anywhere for it, single-threaded set-up and inspection are allowed.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining | System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static void Check(ref EventLoop? bound, object primitive, string operation)
    {
        var running = EventLoop.RunningOnThisThread;
        if (bound is not null && ReferenceEquals(bound, running))
        {
            return;
        }
        CheckSlow(ref bound, running, primitive, operation);
    }

    private static void CheckSlow(ref EventLoop? bound, EventLoop? running, object primitive, string operation)
    {
        var b = bound;
        if (b is null)
        {
            if (running is null)
            {
                return;
            }
            b = Interlocked.CompareExchange(ref bound, running, null) ?? running;
            if (ReferenceEquals(b, running))
            {
                return;
            }
        }
        if (running is null)
        {
            if (!b.IsRunning)
            {
                return;
            }
            throw new InvalidOperationException(b.WrongThreadMessage(operation, $"the event loop this {NameOf(primitive)} belongs to"));
        }
        throw new InvalidOperationException($"{operation}: this {NameOf(primitive)} is bound to a different event loop.");
    }

    /// <summary>asyncio's class name for a primitive, for reprs: "AioLifoQueue`1" gives "LifoQueue".</summary>
    internal static string NameOf(object primitive)
    {
        var n = primitive.GetType().Name;
        int tick = n.IndexOf('`', StringComparison.Ordinal);
        n = tick < 0 ? n : n[..tick];
        return n.StartsWith("Aio", StringComparison.Ordinal) ? n[3..] : n;
    }
}
