namespace Kettle.Tests;

/// <summary>The loop's chunk-grown arrays (timer heap, task registry) and the registry across many chunks.</summary>
public class ChunkedArrayTests
{
    [Fact]
    public void Grow_KeepsEveryElement_FirstChunkDoublesThenWholeChunks()
    {
        var a = new ChunkedArray<int>(16);
        var capacities = new List<int> { a.Capacity };
        int n = 3 * Chunks.Size + 100;
        for (int i = 0; i < n; i++)
        {
            if (i == a.Capacity)
            {
                a.Grow();
                capacities.Add(a.Capacity);
            }
            a[i] = i * 7;
        }

        Assert.Equal(Enumerable.Range(0, n).Select(i => i * 7), Enumerable.Range(0, n).Select(i => a[i]));
        Assert.Equal([16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 2 * 8192, 3 * 8192, 4 * 8192], capacities);
        Assert.Equal(3 * 7, a.ReadRacily(3));
        Assert.Equal(0, a.ReadRacily(4 * Chunks.Size + 5)); // beyond every chunk: default, no exception
        Assert.Equal(0, a.ReadRacily(-1));
    }

    [Fact]
    public void ShrinkTo_GivesBackChunksWithOneOfSlack()
    {
        var a = new ChunkedArray<int>(Chunks.Size);
        a.Grow();
        a.Grow();
        a.Grow(); // 4 chunks

        a.ShrinkTo(3 * Chunks.Size); // uses 3: a whole free chunk is the slack, kept
        Assert.Equal(4 * Chunks.Size, a.Capacity);
        a.ShrinkTo(2 * Chunks.Size - 1);
        Assert.Equal(3 * Chunks.Size, a.Capacity);
        a.ShrinkTo(0);
        Assert.Equal(Chunks.Size, a.Capacity); // the first chunk stays
    }

    private static async Coroutine Nap() => await Aio.Sleep(1);

    [Fact]
    public void AllTasks_TwentyThousandTasks_AcrossRegistryChunks()
    {
        static async Coroutine<(int, int, int)> Main()
        {
            const int n = 20_000;
            var first = new AioTask[n];
            for (int i = 0; i < n; i++)
            {
                first[i] = Aio.CreateTask(Nap());
            }
            int during = Aio.AllTasks().Count;
            await Aio.Gather(first);
            int after = Aio.AllTasks().Count;
            var second = new AioTask[n];
            for (int i = 0; i < n; i++)
            {
                second[i] = Aio.CreateTask(Nap()); // the freed slots are taken again
            }
            int again = Aio.AllTasks().Distinct().Count();
            await Aio.Gather(second);
            return (during, after, again);
        }

        var (during, after, again) = Virtual.Run(Main());

        Assert.Equal(20_001, during); // and main
        Assert.Equal(1, after);
        Assert.Equal(20_001, again);
    }
}
