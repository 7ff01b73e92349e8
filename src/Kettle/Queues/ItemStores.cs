using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>Where a queue keeps its items; the order is the store's (asyncio: <c>_init</c>, <c>_put</c>, <c>_get</c>).</summary>
internal abstract class ItemStore<T>
{
    public abstract void Add(T item);

    public abstract T Take();

    /// <summary>The items in storage order, for ToString.</summary>
    public abstract IEnumerable<T> Items { get; }
}

/// <summary>FIFO: a growable ring buffer; its length is always a power of two (indexes wrap with a mask).</summary>
internal sealed class FifoStore<T> : ItemStore<T>
{
    private T[] items = new T[8];
    private int head;
    private int count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Add(T item)
    {
        if (count == items.Length)
        {
            var bigger = new T[items.Length * 2];
            for (int i = 0; i < count; i++)
            {
                bigger[i] = items[(head + i) & (items.Length - 1)];
            }
            items = bigger;
            head = 0;
        }
        items[(head + count) & (items.Length - 1)] = item;
        count++;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override T Take()
    {
        var item = items[head];
        items[head] = default!;
        head = (head + 1) & (items.Length - 1);
        count--;
        return item;
    }

    public override IEnumerable<T> Items
    {
        get
        {
            for (int i = 0; i < count; i++)
            {
                yield return items[(head + i) & (items.Length - 1)];
            }
        }
    }
}

/// <summary>LIFO: a stack.</summary>
internal sealed class LifoStore<T> : ItemStore<T>
{
    private readonly List<T> items = [];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override void Add(T item) => items.Add(item);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public override T Take()
    {
        var item = items[^1];
        items.RemoveAt(items.Count - 1);
        return item;
    }

    public override IEnumerable<T> Items => items;
}

/// <summary>A binary min-heap (asyncio's <c>heapq</c>): smallest first.</summary>
internal sealed class HeapStore<T> : ItemStore<T>
{
    private readonly List<T> heap = [];
    private readonly IComparer<T> comparer;

    public HeapStore(IComparer<T>? comparer) => this.comparer = comparer ?? Comparer<T>.Default;

    // Left to tiered compilation, unlike the other stores: its profile turns the comparer's interface call into a
    // direct, inlined one, which code compiled optimized at first call cannot.
    public override void Add(T item)
    {
        heap.Add(item);
        int i = heap.Count - 1;
        while (i > 0)
        {
            int parent = (i - 1) / 2;
            if (comparer.Compare(heap[i], heap[parent]) >= 0)
            {
                break;
            }
            (heap[i], heap[parent]) = (heap[parent], heap[i]);
            i = parent;
        }
    }

    public override T Take()
    {
        var top = heap[0];
        int last = heap.Count - 1;
        heap[0] = heap[last];
        heap.RemoveAt(last);
        int n = heap.Count;
        int i = 0;
        while (true)
        {
            int l = (2 * i) + 1;
            if (l >= n)
            {
                break;
            }
            int r = l + 1;
            int smallest = r < n && comparer.Compare(heap[r], heap[l]) < 0 ? r : l;
            if (comparer.Compare(heap[smallest], heap[i]) >= 0)
            {
                break;
            }
            (heap[i], heap[smallest]) = (heap[smallest], heap[i]);
            i = smallest;
        }
        return top;
    }

    public override IEnumerable<T> Items => heap;
}
