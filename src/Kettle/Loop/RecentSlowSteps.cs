namespace Kettle;

/// <summary>One step or callback that held the loop at least <see cref="EventLoop.SlowCallbackDuration"/>.</summary>
/// <param name="What">The task's name, or the callback's description.</param>
/// <param name="Frame">The coroutine frame the step resumed in, if known.</param>
/// <param name="Took">How long it ran.</param>
/// <param name="EndedAt">Stopwatch timestamp of its end.</param>
internal sealed record SlowStep(string What, string? Frame, TimeSpan Took, long EndedAt);

/// <summary>
/// The last few slow steps of a loop, for introspection (kettle top).
/// Threading: written on the loop thread only; any thread may call <see cref="Copy"/> and gets a possibly stale but
/// never torn list (entries are immutable and published by a single reference write each).
/// </summary>
internal sealed class RecentSlowSteps
{
    private const int Capacity = 16;
    private readonly SlowStep?[] ring = new SlowStep?[Capacity];
    private int next;

    public void Add(string what, string? frame, TimeSpan took, long endedAt)
    {
        Volatile.Write(ref ring[next], new SlowStep(what, frame, took, endedAt));
        next = (next + 1) % Capacity;
    }

    /// <summary>The recorded steps, newest first.</summary>
    public List<SlowStep> Copy()
    {
        var result = new List<SlowStep>(Capacity);
        for (int i = 0; i < ring.Length; i++)
        {
            if (Volatile.Read(ref ring[i]) is { } step)
            {
                result.Add(step);
            }
        }
        result.Sort((a, b) => b.EndedAt.CompareTo(a.EndedAt));
        return result;
    }
}
