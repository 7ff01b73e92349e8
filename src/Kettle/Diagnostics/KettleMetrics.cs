using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Kettle;

/// <summary>
/// The "Kettle" meter (System.Diagnostics.Metrics): picked up by <c>dotnet-counters monitor --counters Kettle</c> and by
/// OpenTelemetry's <c>AddMeter("Kettle")</c>. Every instrument costs nothing measurable while no listener is attached:
/// the loop checks <see cref="Instrument.Enabled"/> (a field read) before measuring.
/// </summary>
/// <remarks>Threading: counters are written on loop threads; observable instruments are read on the listener's
/// thread, from plain int fields of the running loops (a possibly stale but never torn value).</remarks>
internal static class KettleMetrics
{
    public const string MeterName = "Kettle";

    public static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> TasksCreated =
        Meter.CreateCounter<long>("kettle.tasks.created", "{task}", "Tasks scheduled on any Kettle event loop.");

    public static readonly Counter<long> SlowSteps =
        Meter.CreateCounter<long>("kettle.steps.slow", "{step}", "Task steps or callbacks that held the loop at least SlowCallbackDuration.");

    public static readonly Histogram<double> LoopLag =
        Meter.CreateHistogram<double>("kettle.loop.lag", "s",
            "Per loop iteration: how long the oldest ready item waited before the loop ran it (an upper bound: items queued " +
            "by the previous iteration count from that iteration's start).");

    static KettleMetrics()
    {
        Meter.CreateObservableUpDownCounter("kettle.tasks.alive", () => Observe(l => l.LiveTaskCount), "{task}", "Tasks not finished, per running loop.");
        Meter.CreateObservableGauge("kettle.ready_queue.depth", () => Observe(l => l.Ready.Count), "{item}", "Items in the ready queue, per running loop.");
        Meter.CreateObservableGauge("kettle.executor.pending", () => Observe(l => l.executorPending), "{call}",
            "Executor calls (threads, processes) submitted by the loop and not yet back, per running loop.");
    }

    private static List<Measurement<int>> Observe(Func<EventLoop, int> read)
    {
        var result = new List<Measurement<int>>();
        foreach (var l in LiveLoops.Running())
        {
            result.Add(new Measurement<int>(read(l), new KeyValuePair<string, object?>("kettle.loop", l.Number)));
        }
        return result;
    }
}
