using System.CommandLine;

namespace Kettle.Tool;

/// <summary>The <c>kettle</c> command line: ps, pstree, top.</summary>
internal static class KettleCli
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancel = default)
    {
        var pid = new Argument<int>("pid") { Description = "The id of a running .NET process that uses Kettle." };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds to wait for the process's answer.",
            DefaultValueFactory = _ => 5,
            Recursive = true,
        };

        var format = new Option<string>("--format") { Description = "Output format.", DefaultValueFactory = _ => "table" };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var ps = new Command("ps", "One row per (task, awaiter): asyncio's python -m asyncio ps.") { pid, format };
        ps.SetAction(async (r, ct) => await Guarded(error, async () =>
        {
            var s = await SnapshotClient.ReadAsync(r.GetValue(pid), Seconds(r.GetValue(timeout)), ct);
            PsTable.Write(s, r.GetValue(format)!, output);
            return ExitCodes.Ok;
        }));

        var pstree = new Command("pstree", "The await tree of every task: asyncio's python -m asyncio pstree.") { pid };
        pstree.SetAction(async (r, ct) => await Guarded(error, async () =>
        {
            var s = await SnapshotClient.ReadAsync(r.GetValue(pid), Seconds(r.GetValue(timeout)), ct);
            var cycles = PsTree.Cycles(s);
            if (cycles.Count > 0)
            {
                error.WriteLine("ERROR: await-graph contains cycles - cannot print a tree!");
                error.WriteLine();
                foreach (var line in PsTree.DescribeCycles(s, cycles))
                {
                    error.WriteLine(line);
                }
                return ExitCodes.Failed;
            }
            foreach (var line in PsTree.Render(s))
            {
                output.WriteLine(line);
            }
            return ExitCodes.Ok;
        }));

        var once = new Option<bool>("--once") { Description = "Print one snapshot and exit." };
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes.", DefaultValueFactory = _ => 1 };
        var top = new Command("top", "A live view of the loops: tasks by state, waiting times, the running step, slow steps, lag.") { pid, once, interval };
        top.SetAction(async (r, ct) => await Guarded(error, async () =>
        {
            var every = Seconds(r.GetValue(interval));
            do
            {
                var s = await SnapshotClient.ReadAsync(r.GetValue(pid), Seconds(r.GetValue(timeout)), ct);
                if (r.GetValue(once))
                {
                    output.Write(TopView.Render(s, null));
                    return ExitCodes.Ok;
                }
                output.Write("\u001b[H\u001b[2J" + TopView.Render(s, every));
                output.Flush();
                try
                {
                    await Task.Delay(every, ct);
                }
                catch (OperationCanceledException)
                {
                    return ExitCodes.Ok;
                }
            }
            while (!ct.IsCancellationRequested);
            return ExitCodes.Ok;
        }));

        var root = new RootCommand("kettle: look inside a running Kettle program (asyncio's python -m asyncio ps / pstree).")
        {
            ps, pstree, top, timeout,
        };
        var parsed = root.Parse(args);
        int status = await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancel);
        // Usage errors get their own status (System.CommandLine says 1, which pstree uses for cycles, as asyncio does).
        return parsed.Errors.Count > 0 ? ExitCodes.Usage : status;
    }

    private static TimeSpan Seconds(double s) => TimeSpan.FromSeconds(Math.Max(0.05, s));

    private static async Task<int> Guarded(TextWriter error, Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (ToolException ex)
        {
            error.WriteLine(ex.Message);
            return ex.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return ExitCodes.Ok;
        }
    }
}
