using System.Globalization;
using System.Text;

namespace Kettle.Tool;

/// <summary>
/// <c>kettle top PID</c>: a refreshing view of each loop, in the spirit of tokio-console: tasks by state, how long
/// each has waited, the step running now and for how long, steps that ran long, loop lag.
/// </summary>
internal static class TopView
{
    public static string Render(Snapshot s, TimeSpan? interval)
    {
        var b = new StringBuilder();
        var refresh = interval is { } i ? $"   every {i.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture)} s (Ctrl+C to quit)" : "";
        b.AppendLine(CultureInfo.InvariantCulture, $"kettle top: process {s.Pid} ({s.Process})   {s.TakenAt:yyyy-MM-dd HH:mm:ss}Z{refresh}");
        if (s.Loops.Count == 0)
        {
            b.AppendLine("no Kettle event loop is running");
        }
        foreach (var loop in s.Loops)
        {
            b.AppendLine();
            b.AppendLine(CultureInfo.InvariantCulture,
                $"loop {loop.Loop}   thread {loop.Tid}   debug {(loop.Debug ? "on" : "off")}   iterations {loop.Iterations}   ready {loop.ReadyQueue}   timers {loop.Timers}   lag {Seconds(loop.LagSeconds)}");
            if (loop.Running is { } r)
            {
                var what = r.TaskId is null ? "a callback" : $"a step of task '{r.TaskName}' ({PsRow.Hex(r.TaskId.Value)}) in {r.Frame}";
                b.AppendLine(CultureInfo.InvariantCulture,
                    $"running:  {what}, for {Bound(r.Timing)}{Seconds(r.ForSeconds)}{(r.ForSeconds >= 1 ? "   <- the loop is blocked" : "")}");
            }
            else
            {
                b.AppendLine("running:  nothing (the loop is waiting for timers or I/O)");
            }
            var byState = loop.Tasks.GroupBy(t => t.State).ToDictionary(g => g.Key, g => g.Count());
            var mixed = loop.Consistent ? "" : "   (read while the loop ran: may mix two moments)";
            b.AppendLine(CultureInfo.InvariantCulture,
                $"tasks:    {loop.Tasks.Count} alive: {byState.GetValueOrDefault("running")} running, {byState.GetValueOrDefault("ready")} ready, {byState.GetValueOrDefault("waiting")} waiting, {byState.GetValueOrDefault("waiting outside")} waiting outside the loop{mixed}");
            if (loop.SlowSteps.Count > 0)
            {
                b.AppendLine("slow steps (newest first):");
                foreach (var st in loop.SlowSteps)
                {
                    b.AppendLine(CultureInfo.InvariantCulture, $"  {Seconds(st.Seconds),9}  {st.What}{(st.Frame is null ? "" : " in " + st.Frame)}, {Seconds(st.AgoSeconds)} ago");
                }
            }
            b.AppendLine();
            b.AppendLine(CultureInfo.InvariantCulture, $"{"ID",-10} {"NAME",-24} {"STATE",-16} {"WAITING",-10} {"FRAME (innermost)",-30} AWAITED BY");
            var names = loop.Tasks.ToDictionary(t => t.Id, t => t.Name);
            foreach (var t in loop.Tasks.OrderByDescending(t => t.WaitingSeconds ?? -1).ThenBy(t => t.Id))
            {
                var waiting = t.WaitingSeconds is { } w ? Seconds(w) : t.State == "running" ? "-" : "?";
                var frame = t.Frames.Count > 0 ? t.Frames[0].Name : "";
                var by = string.Join(", ", t.AwaitedBy.Select(a => names.TryGetValue(a, out var n) ? n : PsRow.Hex(a)));
                b.AppendLine(CultureInfo.InvariantCulture, $"{PsRow.Hex(t.Id),-10} {t.Name,-24} {t.State + (t.Changing ? "*" : ""),-16} {waiting,-10} {frame,-30} {by}");
            }
            if (!loop.Debug)
            {
                b.AppendLine();
                b.AppendLine("(waiting times and exact step times need debug mode: KETTLE_DEBUG=1)");
            }
        }
        return b.ToString();
    }

    private static string Bound(string timing) => timing switch
    {
        "batch" => "at most ",
        "observed" => "at least ",
        _ => "",
    };

    private static string Seconds(double s) => s.ToString(s < 10 ? "0.000" : "0.0", CultureInfo.InvariantCulture) + " s";
}
