namespace Kettle;

/// <summary>
/// Virtual time for a loop: whenever nothing is ready to run, the loop jumps the clock straight to
/// the next timer instead of waiting, so code that sleeps for minutes runs in microseconds and
/// always in the same order. Trio's counterpart: <c>MockClock(autojump_threshold=0)</c>;
/// kotlinx-coroutines-test's virtual time works the same way.
/// </summary>
/// <remarks>
/// <para>Pass it as <see cref="RunOptions.TimeProvider"/>. The loop does not jump while a task waits
/// on a foreign awaitable (a thread-pool job, a socket): that completion arrives in real time, and
/// jumping past it would fire timeouts that real code would never see. <see cref="ExternalWaitLimit"/>
/// bounds that real wait when a timer is pending (default one second): past it, the loop assumes the outside
/// work will not come back before the timer and jumps anyway, so a wait that Kettle cannot see into never
/// deadlocks a test.</para>
/// <para>Threading: any thread may read it; the loop that owns it moves it.</para>
/// </remarks>
public sealed class VirtualClock : TimeProvider
{
    private long ticks;

    /// <summary>Creates a virtual clock reading <paramref name="start"/> (default zero).</summary>
    public VirtualClock(TimeSpan start = default) => ticks = start.Ticks;

    /// <summary>The current reading.</summary>
    public TimeSpan Elapsed => TimeSpan.FromTicks(Ticks);

    /// <summary>How long the loop waits in real time for a foreign completion before jumping to a
    /// pending timer anyway (default one second); null waits for as long as it takes.</summary>
    public TimeSpan? ExternalWaitLimit { get; set; } = TimeSpan.FromSeconds(1);

    internal long Ticks => Volatile.Read(ref ticks);

    /// <summary>Moves the clock forward by <paramref name="delta"/>; timers now due fire in the loop's next iteration.</summary>
    public void Advance(TimeSpan delta)
    {
        if (delta < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(delta), delta, "A clock only moves forward.");
        }
        Interlocked.Add(ref ticks, delta.Ticks);
    }

    internal void JumpTo(long target)
    {
        long cur = Ticks;
        if (target > cur)
        {
            Interlocked.CompareExchange(ref ticks, target, cur);
        }
    }

    /// <inheritdoc/>
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <inheritdoc/>
    public override long GetTimestamp() => Ticks;

    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch + Elapsed;
}
