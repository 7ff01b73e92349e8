using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>
/// A flag tasks can wait for. asyncio counterpart: <c>asyncio.Event</c>.
/// </summary>
/// <remarks>
/// <para>Semantics, as asyncio's:</para>
/// <list type="bullet">
/// <item><see cref="Set"/> wakes every waiter, in the order they started waiting (each is queued on the loop).</item>
/// <item><see cref="Clear"/> only resets the flag: waiters already woken still return.</item>
/// <item><see cref="Wait"/> completes at once, without suspending, when the flag is set.</item>
/// </list>
/// <para>Threading: loop thread only. It belongs to the loop running when it is created, or else to the first loop
/// that uses it; while that loop runs, any other thread gets <see cref="InvalidOperationException"/>.</para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class AioEvent : IWaitSource
{
    private readonly WaiterList waiters = new();
    // Bound at creation inside a running loop, else by the first loop that uses it.
    private EventLoop? loop = EventLoop.RunningOnThisThread;
    private bool value;

    /// <summary>Creates an event that is not set.</summary>
    public AioEvent()
    {
    }

    internal AioEvent(bool set) => value = set;

    /// <summary>Whether the flag is set. asyncio: <c>is_set()</c>.</summary>
    public bool IsSet
    {
        get
        {
            LoopAffinity.Check(ref loop, this, "Event.IsSet");
            return value;
        }
    }

    internal bool IsSetCore => value;

    /// <summary>Sets the flag and wakes every waiter. asyncio counterpart: <c>set()</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Set()
    {
        LoopAffinity.Check(ref loop, this, "Event.Set");
        SetCore();
    }

    internal void SetCore()
    {
        if (!value)
        {
            value = true;
            waiters.WakePending(int.MaxValue);
        }
    }

    /// <summary>Resets the flag. asyncio counterpart: <c>clear()</c>.</summary>
    public void Clear()
    {
        LoopAffinity.Check(ref loop, this, "Event.Clear");
        value = false;
    }

    internal void ClearCore() => value = false;

    /// <summary>
    /// Waits until the flag is set: completes at once if it is, otherwise a cancellation point.
    /// asyncio counterpart: <c>await event.wait()</c> (which returns True).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public WaitAwaitable Wait()
    {
        LoopAffinity.Check(ref loop, this, "Event.Wait");
        return new WaitAwaitable(this, value);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    bool IWaiterOwner.OnResume(Waiter waiter, bool cancelling)
    {
        waiters.Remove(waiter);
        return true;
    }

    WaiterList IWaitSource.Waiters => waiters;

    string IWaitSource.WaitName => "Event.Wait";

    void IWaitSource.UndoFastPath()
    {
    }

    void IWaitSource.ReleaseFromScope()
    {
    }

    /// <summary>"&lt;AioEvent [set]&gt;" or "&lt;AioEvent [unset, waiters:2]&gt;", as asyncio's repr.</summary>
    public override string ToString() =>
        "<Event [" + (value ? "set" : "unset") + (waiters.Count > 0 ? $", waiters:{waiters.Count}" : "") + "]>";
}
