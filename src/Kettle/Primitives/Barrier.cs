using System.Diagnostics;

namespace Kettle;

/// <summary>
/// A barrier: <see cref="Parties"/> tasks wait until all of them have arrived, then all proceed.
/// asyncio counterpart: <c>asyncio.Barrier</c>.
/// </summary>
/// <remarks>
/// <para>Semantics, as asyncio's (built on a <see cref="AioCondition"/>):</para>
/// <list type="bullet">
/// <item>States: filling, draining (the last party arrived and the others are leaving), resetting, broken.</item>
/// <item><see cref="Wait"/> first waits while the barrier drains or resets; it throws
/// <see cref="BrokenBarrierException"/> ("AioBarrier aborted") when the barrier is broken. Its result is the arrival
/// index, 0 to parties - 1. The last arrival starts draining and wakes the others.</item>
/// <item>Tasks waiting in a barrier that is reset or aborted throw <see cref="BrokenBarrierException"/>
/// ("Abort or reset of barrier").</item>
/// <item>A task cancelled while the barrier fills simply leaves; the barrier is not broken.</item>
/// <item>When the last task leaves a draining or resetting barrier, it fills again.</item>
/// </list>
/// <para>Threading: loop thread only. It belongs to the loop running when it is created, or else to the first loop
/// that uses it; while that loop runs, any other thread gets <see cref="InvalidOperationException"/>.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class AioBarrier
{
    private const byte Filling = 0;
    private const byte Draining = 1;
    private const byte Resetting = 2;
    private const byte Broken = 3;

    private readonly AioCondition cond = new();
    private readonly int parties;
    // Bound at creation inside a running loop, else by the first loop that uses it.
    private EventLoop? loop = EventLoop.RunningOnThisThread;
    private byte state;
    // Tasks inside Wait (arrived and not yet left).
    private int count;
    // The two conditions Wait waits for, made once: a lambda is a new delegate each time it is evaluated.
    private Func<bool>? filled;
    private Func<bool>? canEnter;

    /// <summary>Creates a barrier for <paramref name="parties"/> tasks.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="parties"/> is less than 1 ("parties must be >= 1").</exception>
    public AioBarrier(int parties)
    {
        if (parties < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(parties), parties, "parties must be >= 1");
        }
        this.parties = parties;
    }

    /// <summary>How many tasks must arrive. asyncio: <c>parties</c>.</summary>
    public int Parties => parties;

    /// <summary>How many tasks wait while the barrier fills (0 in any other state). asyncio: <c>n_waiting</c>.</summary>
    public int NWaiting
    {
        get
        {
            LoopAffinity.Check(ref loop, this, "Barrier.NWaiting");
            return state == Filling ? count : 0;
        }
    }

    /// <summary>Whether the barrier is broken (see <see cref="Abort"/>). asyncio: <c>broken</c>.</summary>
    public bool IsBroken
    {
        get
        {
            LoopAffinity.Check(ref loop, this, "Barrier.IsBroken");
            return state == Broken;
        }
    }

    /// <summary>
    /// Waits until <see cref="Parties"/> tasks have called it; returns this task's arrival index (0 to parties - 1).
    /// A cancellation point. asyncio counterpart: <c>await barrier.wait()</c> (and <c>async with barrier as i</c>).
    /// </summary>
    /// <exception cref="BrokenBarrierException">The barrier is broken, or was reset or aborted while waiting.</exception>
    public Coroutine<int> Wait()
    {
        LoopAffinity.Check(ref loop, this, "Barrier.Wait");
        return WaitCore();
    }

    private async Coroutine<int> WaitCore()
    {
        using (await cond.Acquire())
        {
            await Block();
            try
            {
                int index = count;
                count++;
                if (index + 1 == parties)
                {
                    // Last arrival: release everyone; newcomers block until draining ends.
                    state = Draining;
                    cond.NotifyAll();
                }
                else
                {
                    await cond.WaitFor(filled ??= () => state != Filling);
                    if (state is Broken or Resetting)
                    {
                        throw new BrokenBarrierException("Abort or reset of barrier");
                    }
                }
                return index;
            }
            finally
            {
                count--;
                Exit();
            }
        }
    }

    // Waits while the barrier drains or resets, then refuses a broken barrier.
    private async Coroutine Block()
    {
        await cond.WaitFor(canEnter ??= () => state is not (Draining or Resetting));
        if (state == Broken)
        {
            throw new BrokenBarrierException("Barrier aborted");
        }
    }

    // The last task to leave a draining or resetting barrier lets it fill again.
    private void Exit()
    {
        if (count == 0)
        {
            if (state is Resetting or Draining)
            {
                state = Filling;
            }
            cond.NotifyAll();
        }
    }

    /// <summary>
    /// Returns the barrier to the filling state; tasks waiting in it throw <see cref="BrokenBarrierException"/>.
    /// asyncio counterpart: <c>await barrier.reset()</c>.
    /// </summary>
    public Coroutine Reset()
    {
        LoopAffinity.Check(ref loop, this, "Barrier.Reset");
        return ResetCore();
    }

    private async Coroutine ResetCore()
    {
        using (await cond.Acquire())
        {
            if (count > 0)
            {
                if (state != Resetting)
                {
                    state = Resetting;
                }
            }
            else
            {
                state = Filling;
            }
            cond.NotifyAll();
        }
    }

    /// <summary>
    /// Breaks the barrier: waiting and future <see cref="Wait"/> calls throw <see cref="BrokenBarrierException"/>
    /// until <see cref="Reset"/>. asyncio counterpart: <c>await barrier.abort()</c>.
    /// </summary>
    public Coroutine Abort()
    {
        LoopAffinity.Check(ref loop, this, "Barrier.Abort");
        return AbortCore();
    }

    private async Coroutine AbortCore()
    {
        using (await cond.Acquire())
        {
            state = Broken;
            cond.NotifyAll();
        }
    }

    /// <summary>"&lt;AioBarrier [filling, waiters:2/5]&gt;" or "&lt;AioBarrier [broken]&gt;", as asyncio's repr.</summary>
    public override string ToString() => state == Broken
        ? "<Barrier [broken]>"
        : $"<Barrier [{(state == Filling ? "filling" : state == Draining ? "draining" : "resetting")}, waiters:{(state == Filling ? count : 0)}/{parties}]>";
}

/// <summary>
/// Thrown by <see cref="AioBarrier.Wait"/> when the barrier is broken, or is reset or aborted while a task waits.
/// asyncio counterpart: <c>asyncio.BrokenBarrierError</c>.
/// </summary>
public class BrokenBarrierException : Exception
{
    /// <summary>Creates the exception.</summary>
    public BrokenBarrierException()
        : base("The barrier is broken.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public BrokenBarrierException(string? message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public BrokenBarrierException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
