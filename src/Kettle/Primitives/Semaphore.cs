using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>
/// A counter of permits for tasks of one event loop. asyncio counterpart: <c>asyncio.Semaphore</c> (3.12+ semantics).
/// </summary>
/// <remarks>
/// <para>Semantics, as asyncio's:</para>
/// <list type="bullet">
/// <item>Strict FIFO: <see cref="Acquire"/> takes a permit at once only when one is free <b>and</b> no task is
/// queued (cancelled waiters aside); otherwise it queues, even if the count is above zero.</item>
/// <item>A wake-up takes the permit on the woken task's behalf; if that task is cancelled before it resumes, the
/// permit is given back and passed on. After each wait, while permits remain, further queued tasks are woken, so
/// one release can end up waking several waiters.</item>
/// <item><see cref="Release"/> adds a permit and wakes the first queued task. A plain semaphore may be released
/// more often than acquired; <see cref="AioBoundedSemaphore"/> refuses that.</item>
/// </list>
/// <para>Threading: loop thread only. It belongs to the loop running when it is created, or else to the first loop
/// that uses it; while that loop runs, any other thread gets <see cref="InvalidOperationException"/>.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public class AioSemaphore : IWaitSource
{
    private readonly WaiterList waiters = new();
    private readonly int bound;
    // Bound at creation inside a running loop, else by the first loop that uses it.
    private EventLoop? loop = EventLoop.RunningOnThisThread;
    private int value;

    /// <summary>Creates a semaphore with <paramref name="value"/> permits.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is negative.</exception>
    public AioSemaphore(int value = 1)
        : this(value, -1)
    {
    }

    private protected AioSemaphore(int value, int bound)
    {
        if (value < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "Semaphore initial value must be >= 0");
        }
        this.value = value;
        this.bound = bound;
    }

    /// <summary>
    /// Whether <see cref="Acquire"/> would wait: no permit is free, or a task is already queued.
    /// asyncio: <c>locked()</c>.
    /// </summary>
    public bool IsLocked
    {
        get
        {
            LoopAffinity.Check(ref loop, this, "Semaphore.IsLocked");
            return LockedCore;
        }
    }

    /// <summary>The free permits (asyncio's <c>_value</c>), for tests.</summary>
    internal int Value => value;

    internal int WaiterCount => waiters.Count;

    private bool LockedCore => value == 0 || waiters.LiveCount > 0;

    /// <summary>
    /// Takes a permit: at once if one is free and nobody is queued, otherwise after waiting in FIFO order.
    /// A cancellation point when it waits. <c>using (await s.Acquire()) { ... }</c> releases on exit.
    /// asyncio counterpart: <c>await sem.acquire()</c>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AcquireAwaitable Acquire()
    {
        LoopAffinity.Check(ref loop, this, "Semaphore.Acquire");
        if (!LockedCore)
        {
            value--;
            return new AcquireAwaitable(this, true);
        }
        return new AcquireAwaitable(this, false);
    }

    /// <summary>Gives a permit back and wakes the first queued task. asyncio counterpart: <c>release()</c>.</summary>
    /// <exception cref="SemaphoreFullException">A <see cref="AioBoundedSemaphore"/> would go above its initial value
    /// ("AioBoundedSemaphore released too many times").</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Release()
    {
        LoopAffinity.Check(ref loop, this, bound >= 0 ? "BoundedSemaphore.Release" : "Semaphore.Release");
        if (bound >= 0 && value >= bound)
        {
            throw new SemaphoreFullException("BoundedSemaphore released too many times");
        }
        ReleaseCore();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReleaseCore()
    {
        value++;
        WakeUpNext();
        AssertInvariants();
    }

    // The permit is taken for the waiter now, so that a newcomer cannot take it before the waiter resumes.
    private bool WakeUpNext()
    {
        for (var w = waiters.First; w is not null; w = w.Next)
        {
            if (w.State == Waiter.Pending)
            {
                value--;
                w.Wake();
                return true;
            }
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    bool IWaiterOwner.OnResume(Waiter waiter, bool cancelling)
    {
        waiters.Remove(waiter);
        if (cancelling && waiter.State == Waiter.Woken)
        {
            // Woken (a permit taken for us) but not about to acquire: give the permit back.
            value++;
        }
        // Waiters that had to queue behind us for FIFO's sake may now proceed: wake as many as permits allow.
        while (value > 0 && WakeUpNext())
        {
        }
        AssertInvariants();
        return true;
    }

    WaiterList IWaitSource.Waiters
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => waiters;
    }

    string IWaitSource.WaitName => bound >= 0 ? "BoundedSemaphore.Acquire" : "Semaphore.Acquire";

    void IWaitSource.UndoFastPath() => ReleaseCore();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IWaitSource.ReleaseFromScope() => Release();

    /// <summary>"&lt;AioSemaphore [unlocked, value:1]&gt;", as asyncio's repr.</summary>
    public override string ToString() =>
        $"<{LoopAffinity.NameOf(this)} [" + (LockedCore ? "locked" : $"unlocked, value:{value}") +
        (waiters.Count > 0 ? $", waiters:{waiters.Count}" : "") + "]>";

    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(value >= 0, "A semaphore's count never goes below zero.");
        Debug.Assert(bound < 0 || value <= bound, "A bounded semaphore never goes above its initial value.");
    }
}

/// <summary>
/// A <see cref="AioSemaphore"/> that refuses to be released above its initial value.
/// asyncio counterpart: <c>asyncio.BoundedSemaphore</c>.
/// </summary>
/// <remarks>Threading: loop thread only.</remarks>
public sealed class AioBoundedSemaphore : AioSemaphore
{
    /// <summary>Creates a bounded semaphore with <paramref name="value"/> permits, also its upper bound.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="value"/> is negative.</exception>
    public AioBoundedSemaphore(int value = 1)
        : base(value, value)
    {
    }
}
