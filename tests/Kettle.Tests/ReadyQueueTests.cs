namespace Kettle.Tests;

/// <summary>The loop's ready queue on its own, against a reference FIFO, through many growths and wrap-arounds.</summary>
public class ReadyQueueTests
{
    private sealed class Item(int n) : IReadyItem
    {
        public int N { get; } = n;

        public void RunReady()
        {
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(3 * 4096 + 11)]
    public void EnqueueDequeue_MixedBursts_StaysFifo(int burst)
    {
        var rng = new Random(burst);
        var queue = new ReadyQueue();
        var model = new Queue<int>();
        int next = 0;
        for (int round = 0; round < 40; round++)
        {
            int puts = rng.Next(0, burst + 1);
            for (int i = 0; i < puts; i++)
            {
                queue.Enqueue(new Item(next));
                model.Enqueue(next++);
            }
            int takes = rng.Next(0, model.Count + 1);
            for (int i = 0; i < takes; i++)
            {
                Assert.Equal(model.Dequeue(), ((Item)queue.Dequeue()).N);
            }
            Assert.Equal(model.Count, queue.Count);
        }
        while (model.Count > 0)
        {
            Assert.Equal(model.Dequeue(), ((Item)queue.Dequeue()).N);
        }
        Assert.Equal(0, queue.Count);
    }
}
