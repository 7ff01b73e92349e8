using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>Something the loop can run from its ready queue: a callback handle or a task step.</summary>
/// <remarks>Threading: loop thread only.</remarks>
internal interface IReadyItem
{
    void RunReady();
}

/// <summary>
/// The loop's FIFO of ready work: a growable ring buffer of <see cref="IReadyItem"/>.
/// Queueing a task step stores the task itself, so it allocates nothing.
/// </summary>
/// <remarks>Threading: loop thread only.</remarks>
internal sealed class ReadyQueue
{
    private IReadyItem?[] items = new IReadyItem?[64];
    private int head;
    private int count;

    public int Count => count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Enqueue(IReadyItem item)
    {
        var arr = items;
        if (count == arr.Length)
        {
            Grow();
            arr = items;
        }
        arr[(head + count) & (arr.Length - 1)] = item;
        count++;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public IReadyItem Dequeue()
    {
        var arr = items;
        var item = arr[head]!;
        arr[head] = null;
        head = (head + 1) & (arr.Length - 1);
        count--;
        return item;
    }

    private void Grow()
    {
        var bigger = new IReadyItem?[items.Length * 2];
        for (int i = 0; i < count; i++)
        {
            bigger[i] = items[(head + i) & (items.Length - 1)];
        }
        items = bigger;
        head = 0;
    }
}
