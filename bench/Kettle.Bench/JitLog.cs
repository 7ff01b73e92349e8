using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

/// <summary>
/// Diagnostic (KETTLE_BENCH_JIT set): which methods the JIT compiled while a workload was timed, how long each took
/// and on which thread, from the runtime's own JIT events (MethodJittingStarted, MethodLoadVerbose). A short burst
/// pays for compiling its hot paths inside the timed part; this shows which ones.
/// </summary>
internal sealed class JitLog : EventListener
{
    private const int MethodLoadVerbose = 143;
    private const int MethodJittingStarted = 145;

    private readonly ConcurrentDictionary<ulong, (DateTime Start, string Name)> started = new();
    private readonly ConcurrentQueue<Compiled> done = new();

    internal readonly record struct Compiled(DateTime Start, double Ms, int Thread, string Name);

    public static JitLog? Start() =>
        Environment.GetEnvironmentVariable("KETTLE_BENCH_JIT") is { Length: > 0 } ? new JitLog() : null;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            // 0x10: JIT keyword (method load and jitting-started events).
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x10);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.Payload is null)
        {
            return;
        }
        if (e.EventId == MethodJittingStarted)
        {
            var id = Convert.ToUInt64(e.Payload[0], CultureInfo.InvariantCulture);
            started[id] = (e.TimeStamp, $"{e.Payload[4]}::{e.Payload[5]}");
        }
        else if (e.EventId == MethodLoadVerbose && started.TryRemove(Convert.ToUInt64(e.Payload[0], CultureInfo.InvariantCulture), out var s))
        {
            done.Enqueue(new Compiled(s.Start, (e.TimeStamp - s.Start).TotalMilliseconds, (int)e.OSThreadId, s.Name));
        }
    }

    /// <summary>Prints the methods compiled since <paramref name="from"/> (UTC), longest first, to stderr.</summary>
    public void Report(DateTime from, int loopThread)
    {
        // The events are delivered asynchronously: give the last ones a moment.
        Thread.Sleep(300);
        var list = done.Where(c => c.Start >= from).OrderByDescending(c => c.Ms).ToList();
        double loopMs = list.Where(c => c.Thread == loopThread).Sum(c => c.Ms);
        Console.Error.WriteLine($"jit events: {list.Count} methods while timed, {list.Sum(c => c.Ms):0.0} ms, {loopMs:0.0} ms on the loop thread");
        foreach (var c in list.Take(30))
        {
            Console.Error.WriteLine($"  {c.Ms,6:0.00} ms  {(c.Thread == loopThread ? "loop" : "other"),-5} {c.Name}");
        }
    }
}
