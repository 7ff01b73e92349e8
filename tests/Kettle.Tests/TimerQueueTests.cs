namespace Kettle.Tests;

/// <summary>The timer heap on its own: entries fire in (due, scheduling order), whatever the heap's shape, with
/// cancelled entries skipped and compaction (a rebuild of the heap) in between.</summary>
public class TimerQueueTests
{
    private sealed class Target(List<int> fired) : ITimerTarget
    {
        public readonly HashSet<int> Cancelled = [];

        public bool IsTimerLive(int token) => !Cancelled.Contains(token);

        public void OnTimerDue(int token, EventLoop loop) => fired.Add(token);
    }

    [Theory]
    [InlineData(1, 0.0)]
    [InlineData(7, 0.0)]
    [InlineData(1000, 0.0)]
    [InlineData(5000, 0.3)]
    [InlineData(5000, 0.7)]
    [InlineData(3 * Chunks.Size + 5, 0.0)]
    [InlineData(4 * Chunks.Size, 0.6)]
    public void FireDue_FiresLiveEntriesInDueThenSchedulingOrder(int n, double cancelShare)
    {
        var rng = new Random(n);
        var fired = new List<int>();
        var target = new Target(fired);
        var queue = new TimerQueue();
        var due = new long[n];
        for (int token = 0; token < n; token++)
        {
            due[token] = rng.Next(0, 50); // many ties: order among equal due times is scheduling order
            queue.Add(due[token], target, token);
        }
        for (int token = 0; token < n; token++)
        {
            if (rng.NextDouble() < cancelShare)
            {
                target.Cancelled.Add(token);
                queue.NoteCancelled(); // may rebuild the heap without the stale entries
            }
        }

        // Fire in two rounds, so the heap is popped from, then still consistent for the rest.
        queue.FireDue(20, null!);
        int firstRound = fired.Count;
        queue.FireDue(long.MaxValue, null!);

        var expected = Enumerable.Range(0, n).Where(t => !target.Cancelled.Contains(t)).OrderBy(t => due[t]).ThenBy(t => t).ToList();
        Assert.Equal(expected, fired);
        Assert.Equal(expected.Count(t => due[t] <= 20), firstRound);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void Add_AfterPops_KeepsOrder()
    {
        var fired = new List<int>();
        var target = new Target(fired);
        var queue = new TimerQueue();
        for (int token = 0; token < 100; token++)
        {
            queue.Add(100 - token, target, token);
        }
        queue.FireDue(50, null!); // tokens 99..50 (due 1..50)
        for (int token = 100; token < 200; token++)
        {
            queue.Add(token % 7 + 45, target, token); // due 45..51: some already due
        }
        queue.FireDue(long.MaxValue, null!);

        var expected = Enumerable.Range(50, 50).Reverse()
            .Concat(Enumerable.Range(0, 50).Concat(Enumerable.Range(100, 100)).OrderBy(t => t < 100 ? 100 - t : t % 7 + 45).ThenBy(t => t < 100 ? 0 : 1).ThenBy(t => t));
        Assert.Equal(expected, fired);
    }

    [Fact]
    public void ManyChunks_ShrinkAndGrowAgain_KeepOrder()
    {
        var fired = new List<int>();
        var target = new Target(fired);
        var queue = new TimerQueue();
        int n = 5 * Chunks.Size;
        for (int token = 0; token < n; token++)
        {
            queue.Add(n - token, target, token); // due n..1: every add climbs to the top
        }
        queue.FireDue(n - Chunks.Size / 2, null!); // most fire: the heap gives chunks back
        int firedFirst = fired.Count;
        for (int token = n; token < n + 3 * Chunks.Size; token++)
        {
            queue.Add(token % 1000 + n - 100, target, token); // grows into new chunks again, among the old entries
        }
        queue.FireDue(long.MaxValue, null!);

        Assert.Equal(n - Chunks.Size / 2, firedFirst);
        Assert.Equal(Enumerable.Range(Chunks.Size / 2, n - Chunks.Size / 2).Reverse(), fired.Take(firedFirst));
        long DueOf(int t) => t < n ? n - t : t % 1000 + n - 100;
        var rest = Enumerable.Range(0, Chunks.Size / 2).Concat(Enumerable.Range(n, 3 * Chunks.Size))
            .OrderBy(DueOf).ThenBy(t => t < n ? 0 : 1).ThenBy(t => t);
        Assert.Equal(rest, fired.Skip(firedFirst));
        Assert.Equal(0, queue.Count);
    }
}
