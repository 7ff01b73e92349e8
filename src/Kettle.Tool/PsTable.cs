using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Kettle.Tool;

/// <summary>One row of <c>kettle ps</c>: a (task, awaiter) pair, asyncio's seven columns.</summary>
internal sealed record PsRow(long Tid, long TaskId, string TaskName, string CoroutineStack, string AwaiterChain, string AwaiterName, long AwaiterId)
{
    public static string Hex(long id) => "0x" + id.ToString("x", CultureInfo.InvariantCulture);
}

/// <summary><c>kettle ps PID</c>: asyncio's <c>python -m asyncio ps</c> table, plus csv and json.</summary>
internal static class PsTable
{
    public static readonly string[] Header = ["tid", "task id", "task name", "coroutine stack", "awaiter chain", "awaiter name", "awaiter id"];

    /// <summary>One row per (task, awaiter); a task nobody awaits has one row with an empty awaiter and id 0x0.
    /// Stacks are function names, innermost first, joined by " -> ".</summary>
    public static List<PsRow> Rows(Snapshot s)
    {
        var rows = new List<PsRow>();
        foreach (var loop in s.Loops)
        {
            var byId = loop.Tasks.ToDictionary(t => t.Id);
            foreach (var t in loop.Tasks.OrderBy(t => t.Id))
            {
                var stack = Names(t.Frames);
                if (t.AwaitedBy.Count == 0)
                {
                    rows.Add(new PsRow(loop.Tid, t.Id, t.Name, stack, "", "", 0));
                    continue;
                }
                foreach (var a in t.AwaitedBy)
                {
                    byId.TryGetValue(a, out var awaiter);
                    rows.Add(new PsRow(loop.Tid, t.Id, t.Name, stack, awaiter is null ? "" : Names(awaiter.Frames), awaiter?.Name ?? "Unknown", a));
                }
            }
        }
        return rows;
    }

    private static string Names(List<FrameView> frames) => string.Join(" -> ", frames.Select(f => f.Name));

    public static void Write(Snapshot s, string format, TextWriter o)
    {
        var rows = Rows(s);
        switch (format)
        {
            case "csv":
                o.WriteLine(string.Join(",", Header.Select(Csv)));
                foreach (var r in rows)
                {
                    o.WriteLine(string.Join(",", Cells(r).Select(Csv)));
                }
                break;
            case "json":
                WriteJson(s, rows, o);
                break;
            default:
                o.WriteLine(Line(Header));
                o.WriteLine(new string('-', 180));
                foreach (var r in rows)
                {
                    o.WriteLine(Line(Cells(r)));
                }
                break;
        }
    }

    private static string[] Cells(PsRow r) =>
        [r.Tid.ToString(CultureInfo.InvariantCulture), PsRow.Hex(r.TaskId), r.TaskName, r.CoroutineStack, r.AwaiterChain, r.AwaiterName, PsRow.Hex(r.AwaiterId)];

    // asyncio's widths: left-aligned, padded, never cut.
    private static readonly int[] Widths = [10, 20, 20, 50, 50, 15, 15];

    private static string Line(string[] cells)
    {
        var b = new StringBuilder();
        for (int i = 0; i < cells.Length; i++)
        {
            if (i > 0)
            {
                b.Append(' ');
            }
            b.Append(cells[i].PadRight(Widths[i]));
        }
        return b.ToString();
    }

    private static string Csv(string cell) =>
        cell.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + cell.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : cell;

    private static void WriteJson(Snapshot s, List<PsRow> rows, TextWriter o)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", s.Version);
            w.WriteNumber("pid", s.Pid);
            w.WriteStartArray("rows");
            foreach (var r in rows)
            {
                w.WriteStartObject();
                w.WriteNumber("tid", r.Tid);
                w.WriteString("taskId", PsRow.Hex(r.TaskId));
                w.WriteString("taskName", r.TaskName);
                w.WriteString("coroutineStack", r.CoroutineStack);
                w.WriteString("awaiterChain", r.AwaiterChain);
                w.WriteString("awaiterName", r.AwaiterName);
                w.WriteString("awaiterId", PsRow.Hex(r.AwaiterId));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        o.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
    }
}
