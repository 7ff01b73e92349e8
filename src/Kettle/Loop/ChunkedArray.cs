using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>The chunk size of <see cref="ChunkedArray{T}"/>.</summary>
internal static class Chunks
{
    internal const int Shift = 13;
    internal const int Size = 1 << Shift; // 8192 elements
    internal const int Mask = Size - 1;
}

/// <summary>
/// An array of the loop's that grows in chunks of <see cref="Chunks.Size"/> elements (the first chunk grows up to
/// that size by doubling, so a small loop holds a small array). Growing never copies what is there: a million
/// sleeping tasks leave no trail of outgrown arrays on the large-object heap waiting for a gen2 collection, which
/// was about 30 B of RSS per task for the timer heap and 12 B for the task registry.
/// </summary>
/// <remarks>Threading: written by the loop thread only. Another thread may read elements racily: a chunk, once
/// made, is never replaced (except the first while it doubles), so it reads the value or a stale one.</remarks>
internal sealed class ChunkedArray<T>
{
    private T[][] chunks;
    private int chunkCount = 1;

    public ChunkedArray(int initial)
    {
        chunks = [new T[initial]];
        Capacity = initial;
    }

    /// <summary>How many elements fit before the next <see cref="Grow"/>.</summary>
    public int Capacity { [MethodImpl(MethodImplOptions.AggressiveOptimization)] get; private set; }

    public ref T this[int i]
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => ref chunks[i >> Chunks.Shift][i & Chunks.Mask];
    }

    /// <summary>For a racy reader on another thread: the element, or default if <paramref name="i"/> is not (or no
    /// longer) backed by a chunk this thread can see.</summary>
    public T? ReadRacily(int i)
    {
        var all = Volatile.Read(ref chunks);
        int c = i >> Chunks.Shift;
        if (i < 0 || c >= all.Length || Volatile.Read(ref all[c]) is not { } chunk || (i & Chunks.Mask) >= chunk.Length)
        {
            return default;
        }
        return chunk[i & Chunks.Mask]; // a reference or a small value: never torn
    }

    /// <summary>Makes room for more elements: the first chunk doubles up to a full chunk, then whole chunks are added.</summary>
    public void Grow()
    {
        if (Capacity < Chunks.Size)
        {
            Array.Resize(ref chunks[0], Math.Min(Capacity * 2, Chunks.Size));
            Capacity = chunks[0].Length;
            return;
        }
        if (chunkCount == chunks.Length)
        {
            Array.Resize(ref chunks, chunks.Length * 2);
        }
        chunks[chunkCount++] = new T[Chunks.Size];
        Capacity += Chunks.Size;
    }

    /// <summary>Gives back the last chunks while <paramref name="used"/> elements leave a whole chunk free below them
    /// (one chunk of slack, so a count that hovers at a chunk boundary does not allocate and free one each time).
    /// The elements given back must already be cleared.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ShrinkTo(int used)
    {
        while (chunkCount > 1 && used <= Capacity - 2 * Chunks.Size)
        {
            chunks[--chunkCount] = null!;
            Capacity -= Chunks.Size;
        }
    }
}
