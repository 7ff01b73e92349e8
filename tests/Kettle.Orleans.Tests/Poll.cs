using System.Diagnostics;

namespace Kettle.Orleans.Tests;

/// <summary>Waiting for a condition that another thread makes true, with a generous bound for a loaded machine.</summary>
internal static class Poll
{
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>Polls <paramref name="condition"/> until it holds; throws <see cref="TimeoutException"/> after <see cref="Bound"/>.</summary>
    public static async Task Until(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Bound)
            {
                throw new TimeoutException($"Still waiting after {Bound.TotalSeconds} s for: {what}");
            }
            await Task.Delay(20);
        }
    }
}
