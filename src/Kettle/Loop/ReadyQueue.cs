using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>Something the loop can run from its ready queue: a callback handle or a task step.</summary>
/// <remarks>Threading: loop thread only.</remarks>
internal interface IReadyItem
{
    void RunReady();
}

/// <summary>
/// A ready item that another thread posts to the loop through a list linked through the items themselves
/// (<see cref="EventLoop.TryPostThreadsafe"/>): no queue node or segment per item. An executor call's result.
/// </summary>
/// <remarks>Threading: the link is written by the poster (before and right after it joins the list) and by the loop
/// (once it has taken the item); an item is in the list at most once.</remarks>
internal interface IPostedItem : IReadyItem
{
    /// <summary>The item posted after this one (null: none yet). Reads are acquires, writes releases.</summary>
    IPostedItem? NextPosted { get; set; }
}

/// <summary>
/// The loop's FIFO of ready work: a growable ring buffer of <see cref="IReadyItem"/>.
/// Queueing a task step stores the task itself, so it allocates nothing.
/// </summary>
/// <remarks>Threading: loop thread only.</remarks>
internal sealed class ReadyQueue
{
    // Slots are structs, not a bare IReadyItem[]: storing into an array of an interface type costs a covariance
    // check per store (StelemRef, a few percent of a queue hand-off in profiles); a struct element does not.
    private struct Slot
    {
        public IReadyItem? Item;
    }

    private Slot[] items = new Slot[64];
    private int head;
    private int count;

    public int Count => count;

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public void Enqueue(IReadyItem item)
    {
        var arr = items;
        if (count == arr.Length)
        {
            Grow();
            arr = items;
        }
        arr[(head + count) & (arr.Length - 1)].Item = item;
        count++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
    public IReadyItem Dequeue()
    {
        var arr = items;
        ref var slot = ref arr[head];
        var item = slot.Item!;
        slot.Item = null;
        head = (head + 1) & (arr.Length - 1);
        count--;
        return item;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Grow()
    {
        var bigger = new Slot[items.Length * 2];
        for (int i = 0; i < count; i++)
        {
            bigger[i] = items[(head + i) & (items.Length - 1)];
        }
        items = bigger;
        head = 0;
    }
}
