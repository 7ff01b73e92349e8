using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>Something a timer entry points at; it decides what a due entry means.</summary>
/// <remarks>Threading: loop thread only.</remarks>
internal interface ITimerTarget
{
    /// <summary>Whether the entry made with <paramref name="token"/> still counts (not cancelled).</summary>
    bool IsTimerLive(int token);

    /// <summary>The entry is due: queue whatever it wakes. Called only for live entries.</summary>
    void OnTimerDue(int token, EventLoop loop);
}

/// <summary>
/// A 4-ary min-heap of timer entries ordered by (due, sequence), so timers due at the same time
/// fire in the order they were scheduled. Entries are structs: a task's sleep adds no object. Four children per
/// node rather than two halve the heap's depth: a million sleepers' heap is 10 levels, not 20, and a node's
/// children sit next to each other in memory (one or two cache lines), so a pop misses the cache half as often.
/// Cancelled entries stay until they surface or until they are more than half of the heap,
/// when the heap is rebuilt without them (asyncio does the same).
/// The heap lives in a <see cref="ChunkedArray{T}"/>: growing never copies it, so a million sleepers leave no trail
/// of outgrown arrays on the large-object heap waiting for a gen2 collection.
/// </summary>
/// <remarks>Threading: loop thread only.</remarks>
internal sealed class TimerQueue
{
    // 24 bytes: a million sleeping tasks hold a million entries. Seq is 32 bits and compared with wrap-around
    // (entries alive together are never 2^31 schedulings apart in practice), not 64 bits padded to 32 bytes.
    internal struct Entry
    {
        public long Due;
        public ITimerTarget Target;
        public int Seq;
        public int Token;
    }

    private readonly ChunkedArray<Entry> heap = new(16);
    private int count;
    private int nextSeq;
    private int cancelled;

    public int Count => count;

    public long PeekDue => heap[0].Due;

    // Hot path: compiled fully optimized at first call. Tiered compilation would run it unoptimized for the
    // first ~100 ms of a burst, which is most of a short one (see docs/performance.md, "Warm-up").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Add(long due, ITimerTarget target, int token)
    {
        if (count == heap.Capacity)
        {
            heap.Grow();
        }
        var e = new Entry { Due = due, Seq = nextSeq, Target = target, Token = token };
        nextSeq = unchecked(nextSeq + 1);
        int i = count++;
        while (i > 0)
        {
            int parent = (i - 1) >> 2;
            ref var p = ref heap[parent];
            if (!Less(ref e, ref p))
            {
                break;
            }
            heap[i] = p;
            i = parent;
        }
        heap[i] = e;
    }

    /// <summary>Notes that one entry went stale; rebuilds when stale entries dominate.</summary>
    public void NoteCancelled()
    {
        cancelled++;
        if (count > 100 && cancelled * 2 > count)
        {
            Compact();
        }
    }

    /// <summary>Drops stale entries from the top, then reports whether a live one remains.</summary>
    public bool TryPeekLive(out long due)
    {
        while (count > 0)
        {
            ref var top = ref heap[0];
            if (top.Target.IsTimerLive(top.Token))
            {
                due = top.Due;
                return true;
            }
            PopTop();
            if (cancelled > 0)
            {
                cancelled--;
            }
        }
        due = 0;
        return false;
    }

    /// <summary>Fires every live entry due at or before <paramref name="now"/>, in (due, seq) order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FireDue(long now, EventLoop loop)
    {
        while (count > 0 && heap[0].Due <= now)
        {
            var top = PopTop();
            if (top.Target.IsTimerLive(top.Token))
            {
                top.Target.OnTimerDue(top.Token, loop);
            }
            else if (cancelled > 0)
            {
                cancelled--;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Entry PopTop()
    {
        var top = heap[0];
        ref var lastSlot = ref heap[--count];
        var last = lastSlot;
        lastSlot = default;
        if (count > 0)
        {
            SiftDown(0, last);
        }
        heap.ShrinkTo(count);
        return top;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SiftDown(int i, Entry e)
    {
        int n = count;
        while (true)
        {
            int first = (i << 2) + 1;
            if (first >= n)
            {
                break;
            }
            // The least of up to four children.
            int child = first;
            ref var least = ref heap[first];
            int end = Math.Min(first + 4, n);
            for (int c = first + 1; c < end; c++)
            {
                ref var candidate = ref heap[c];
                if (Less(ref candidate, ref least))
                {
                    child = c;
                    least = ref candidate;
                }
            }
            if (!Less(ref least, ref e))
            {
                break;
            }
            heap[i] = least;
            i = child;
        }
        heap[i] = e;
    }

    private void Compact()
    {
        int w = 0;
        for (int r = 0; r < count; r++)
        {
            ref var entry = ref heap[r];
            if (entry.Target.IsTimerLive(entry.Token))
            {
                heap[w++] = entry;
            }
        }
        for (int r = w; r < count; r++)
        {
            heap[r] = default;
        }
        count = w;
        heap.ShrinkTo(count);
        cancelled = 0;
        for (int i = (count - 2) >> 2; i >= 0; i--)
        {
            SiftDown(i, heap[i]);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Less(ref Entry a, ref Entry b) => a.Due < b.Due || (a.Due == b.Due && unchecked(a.Seq - b.Seq) < 0);
}
