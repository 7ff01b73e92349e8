using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>
/// A mutual-exclusion lock for tasks of one event loop. asyncio counterpart: <c>asyncio.Lock</c>.
/// </summary>
/// <remarks>
/// <para>Semantics, as asyncio's:</para>
/// <list type="bullet">
/// <item>Strict FIFO: <see cref="Acquire"/> takes the lock at once only if it is free <b>and</b> no task is queued
/// (cancelled waiters aside). A newcomer never barges past queued waiters, even while the lock is momentarily
/// free between a release and the woken waiter's resumption.</item>
/// <item><see cref="Release"/> wakes the first queued waiter (queued on the loop, never run inline); the waiter
/// takes the lock when it resumes.</item>
/// <item>Cancelling a queued task removes it from the line. A task cancelled after it was woken passes the wake-up
/// on to the next waiter: no wake-up is lost and the lock is never left held by a task that was cancelled.</item>
/// <item>Not owned by a task (any task may release it) and not re-entrant.</item>
/// </list>
/// <para>Threading: loop thread only. It belongs to the loop running when it is created, or else to the first loop
/// that uses it; while that loop runs, any other thread gets <see cref="InvalidOperationException"/>.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class AioLock : IWaitSource
{
    private readonly WaiterList waiters = new();
    // Bound at creation inside a running loop, else by the first loop that uses it.
    private EventLoop? loop = EventLoop.RunningOnThisThread;
    // Invariant: if the lock is free, the first waiter (if any) is woken or cancelled, never left pending.
    private bool locked;

    /// <summary>Creates a free lock.</summary>
    public AioLock()
    {
    }

    /// <summary>Whether the lock is held. asyncio: <c>locked()</c>.</summary>
    public bool IsLocked
    {
        get
        {
            LoopAffinity.Check(ref loop, this, "Lock.IsLocked");
            return locked;
        }
    }

    internal bool IsLockedCore => locked;

    /// <summary>
    /// Acquires the lock: completes at once if it is free and nobody is queued, otherwise queues the task (FIFO)
    /// until <see cref="Release"/> reaches it. A cancellation point when it waits. Await the result:
    /// <c>using (await l.Acquire()) { ... }</c> or <c>await l.Acquire(); try { ... } finally { l.Release(); }</c>.
    /// asyncio counterpart: <c>await lock.acquire()</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AcquireAwaitable Acquire()
    {
        LoopAffinity.Check(ref loop, this, "Lock.Acquire");
        if (!locked && waiters.LiveCount == 0)
        {
            locked = true;
            return new AcquireAwaitable(this, true);
        }
        return new AcquireAwaitable(this, false);
    }

    /// <summary>Releases the lock and wakes the first queued waiter. asyncio counterpart: <c>release()</c>.</summary>
    /// <exception cref="InvalidOperationException">The lock is not held ("AioLock is not acquired.").</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Release()
    {
        LoopAffinity.Check(ref loop, this, "Lock.Release");
        ReleaseCore();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void ReleaseCore()
    {
        if (!locked)
        {
            throw new InvalidOperationException("Lock is not acquired.");
        }
        locked = false;
        WakeUpFirst();
        AssertInvariants();
    }

    // asyncio looks at the first waiter only: a cancelled one at the head passes the baton when its task resumes.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void WakeUpFirst()
    {
        if (waiters.First is { State: Waiter.Pending } w)
        {
            w.Wake();
        }
    }

    // Hot path: compiled fully optimized at first call. Tiered compilation would run it unoptimized for the
    // first ~100 ms of a burst, which is most of a short one (see docs/performance.md, "Warm-up").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    bool IWaiterOwner.OnResume(Waiter waiter, bool cancelling)
    {
        waiters.Remove(waiter);
        if (cancelling)
        {
            // Woken but cancelled before it could take the lock (or cancelled in line): keep the invariant,
            // so the next waiter is not stranded behind a free lock.
            if (!locked)
            {
                WakeUpFirst();
            }
        }
        else
        {
            locked = true;
        }
        AssertInvariants();
        return true;
    }

    WaiterList IWaitSource.Waiters
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => waiters;
    }

    string IWaitSource.WaitName => "Lock.Acquire";

    void IWaitSource.UndoFastPath() => ReleaseCore();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IWaitSource.ReleaseFromScope() => Release();

    /// <summary>"&lt;AioLock [locked, waiters:1]&gt;", as asyncio's repr.</summary>
    public override string ToString() =>
        "<Lock [" + (locked ? "locked" : "unlocked") + (waiters.Count > 0 ? $", waiters:{waiters.Count}" : "") + "]>";

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(
            locked || waiters.First is null || waiters.First.State != Waiter.Pending,
            "The lock is free, so the first waiter should be woken or cancelled, not left pending.");
    }
}
