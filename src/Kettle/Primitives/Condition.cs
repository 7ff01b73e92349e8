using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Kettle;

/// <summary>
/// A condition variable: tasks wait, with a <see cref="AioLock"/> held, until another task notifies them.
/// asyncio counterpart: <c>asyncio.Condition</c>.
/// </summary>
/// <remarks>
/// <para>Semantics, as asyncio's:</para>
/// <list type="bullet">
/// <item><see cref="Acquire"/>, <see cref="Release"/> and <see cref="IsLocked"/> are the underlying lock's.</item>
/// <item><see cref="Wait"/> releases the lock, waits for a notification, and <b>always</b> re-acquires the lock
/// before it returns or throws, even when cancelled (cancellations during the re-acquire are held back and the
/// last one is rethrown once the lock is held again).</item>
/// <item>A waiter that leaves with an exception (cancelled) passes one notification on, so a notification it
/// consumed is not lost; this may cause a spurious wake-up, which the condition-variable protocol allows.</item>
/// <item><see cref="Notify"/> wakes up to n waiting tasks in FIFO order; each proceeds once it holds the lock.</item>
/// </list>
/// <para>Threading: loop thread only. It belongs to the loop running when it is created, or else to the first loop
/// that uses it; while that loop runs, any other thread gets <see cref="InvalidOperationException"/>.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class AioCondition : IWaitSource
{
    private readonly WaiterList waiters = new();
    private readonly AioLock lk;
    // Bound at creation inside a running loop, else by the first loop that uses it.
    private EventLoop? loop = EventLoop.RunningOnThisThread;

    /// <summary>Creates a condition over <paramref name="lock"/>, or over a new lock.</summary>
    public AioCondition(AioLock? @lock = null) => lk = @lock ?? new AioLock();

    /// <summary>Whether the underlying lock is held. asyncio: <c>locked()</c>.</summary>
    public bool IsLocked => lk.IsLocked;

    /// <summary>Acquires the underlying lock; see <see cref="AioLock.Acquire"/>.
    /// <c>using (await c.Acquire()) { ... }</c> is asyncio's <c>async with cond:</c>.</summary>
    public AcquireAwaitable Acquire() => lk.Acquire();

    /// <summary>Releases the underlying lock; see <see cref="AioLock.Release"/>.</summary>
    public void Release() => lk.Release();

    /// <summary>
    /// Releases the lock, waits until notified, then re-acquires the lock. A cancellation point; the lock is held
    /// again even when it throws <see cref="CancelledException"/>. asyncio counterpart: <c>await cond.wait()</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The lock is not held ("cannot wait on un-acquired lock"), thrown when awaited.</exception>
    public Coroutine Wait()
    {
        LoopAffinity.Check(ref loop, this, "Condition.Wait");
        return WaitCore();
    }

    private async Coroutine WaitCore()
    {
        if (!lk.IsLocked)
        {
            throw new InvalidOperationException("cannot wait on un-acquired lock");
        }
        lk.ReleaseCore();
        try
        {
            try
            {
                await new WaitAwaitable(this, false);
            }
            finally
            {
                // Must re-acquire the lock even if the wait was cancelled. Only CancelledException is held back:
                // other errors must not make us spin.
                CancelledException? err = null;
                while (true)
                {
                    try
                    {
                        await lk.Acquire();
                        break;
                    }
                    catch (CancelledException e)
                    {
                        err = e;
                    }
                }
                if (err is not null)
                {
                    ExceptionDispatchInfo.Throw(err);
                }
            }
        }
        catch (Exception)
        {
            // We may have been notified before the exception: hand that notification to another waiter.
            NotifyCore(1);
            throw;
        }
    }

    /// <summary>
    /// Waits until <paramref name="predicate"/> returns true and returns true. The predicate is checked first,
    /// without needing the lock; if it is false, <see cref="Wait"/> is called in a loop (which needs the lock).
    /// asyncio counterpart: <c>await cond.wait_for(predicate)</c>.
    /// </summary>
    public Coroutine<bool> WaitFor(Func<bool> predicate)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        LoopAffinity.Check(ref loop, this, "Condition.WaitFor");
        return WaitForCore(predicate);
    }

    private async Coroutine<bool> WaitForCore(Func<bool> predicate)
    {
        var result = predicate();
        while (!result)
        {
            await WaitCore();
            result = predicate();
        }
        return result;
    }

    /// <summary>Wakes up to <paramref name="n"/> waiting tasks, FIFO. asyncio counterpart: <c>notify(n)</c>.</summary>
    /// <exception cref="InvalidOperationException">The lock is not held ("cannot notify on un-acquired lock").</exception>
    public void Notify(int n = 1)
    {
        LoopAffinity.Check(ref loop, this, "Condition.Notify");
        if (!lk.IsLocked)
        {
            throw new InvalidOperationException("cannot notify on un-acquired lock");
        }
        NotifyCore(n);
    }

    /// <summary>Wakes every waiting task. asyncio counterpart: <c>notify_all()</c>.</summary>
    /// <exception cref="InvalidOperationException">The lock is not held ("cannot notify on un-acquired lock").</exception>
    public void NotifyAll() => Notify(waiters.Count);

    internal void NotifyCore(int n) => waiters.WakePending(n);

    bool IWaiterOwner.OnResume(Waiter waiter, bool cancelling)
    {
        waiters.Remove(waiter);
        return true;
    }

    WaiterList IWaitSource.Waiters => waiters;

    string IWaitSource.WaitName => "Condition.Wait";

    void IWaitSource.UndoFastPath()
    {
    }

    void IWaitSource.ReleaseFromScope()
    {
    }

    /// <summary>"&lt;AioCondition [locked, waiters:1]&gt;", as asyncio's repr.</summary>
    public override string ToString() =>
        "<Condition [" + (lk.IsLockedCore ? "locked" : "unlocked") + (waiters.Count > 0 ? $", waiters:{waiters.Count}" : "") + "]>";
}
