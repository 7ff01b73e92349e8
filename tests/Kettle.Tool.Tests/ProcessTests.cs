using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kettle.Tool.Tests;

public sealed class AlbumTarget : IDisposable
{
    public TargetProcess Process { get; } = TargetProcess.Start("album");

    public void Dispose() => Process.Dispose();
}

/// <summary>asyncio's ps/pstree documentation example, read from a live child process.</summary>
public sealed partial class AlbumTests(AlbumTarget target) : IClassFixture<AlbumTarget>
{
    private const string Patient = "60"; // seconds: the machine is shared and loaded

    private string Pid => target.Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Ps_Album_OneRowPerTaskAndAwaiter()
    {
        var run = await ToolRun.Of("ps", Pid, "--timeout", Patient);

        Assert.Equal(0, run.ExitCode);
        var lines = run.OutLines;
        Assert.Equal(
            "tid        task id              task name            coroutine stack                                    awaiter chain                                      awaiter name    awaiter id     ",
            lines[0]);
        Assert.Equal(new string('-', 180), lines[1]);
        // Task names sit at a fixed column (asyncio pads, never cuts: a long stack pushes later columns right).
        Assert.Equal(["Task-1", "Sundowning", "TMBTE", "TNDNBTG", "Levitate", "DYWTYLM", "Aqua Regia"], lines.Skip(2).Select(l => l[32..52].Trim()));
        var tid = lines[2][..10].Trim();
        Assert.Contains(
            $"{tid,-10} {"0x6",-20} {"Levitate",-20} {"Album.Play",-50} {"TaskGroup.ExitAsync -> TaskGroup.RunCore -> Album.Record",-50} {"Sundowning",-15} {"0x2",-15}",
            lines);
        Assert.Contains($"{tid,-10} {"0x1",-20} {"Task-1",-20} {"TaskGroup.ExitAsync -> TaskGroup.RunCore -> Album.Run"} {"",-50} {"",-15} {"0x0",-15}", lines);
        Assert.All(lines.Skip(2), l => Assert.StartsWith(tid, l, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Pstree_Album_DrawsAsyncioTree()
    {
        var run = await ToolRun.Of("pstree", Pid, "--timeout", Patient);

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("", run.Err);
        var drawn = run.OutLines.Select(l => SourcePlace().Replace(l, "")).ToArray();
        Assert.Equal(
        [
            "└── (T) Task-1",
            "    └──  Album.Run",
            "        └──  TaskGroup.RunCore",
            "            └──  TaskGroup.ExitAsync",
            "                ├── (T) Sundowning",
            "                │   └──  Album.Record",
            "                │       └──  TaskGroup.RunCore",
            "                │           └──  TaskGroup.ExitAsync",
            "                │               ├── (T) TNDNBTG",
            "                │               │   └──  Album.Play",
            "                │               └── (T) Levitate",
            "                │                   └──  Album.Play",
            "                └── (T) TMBTE",
            "                    └──  Album.Record",
            "                        └──  TaskGroup.RunCore",
            "                            └──  TaskGroup.ExitAsync",
            "                                ├── (T) DYWTYLM",
            "                                │   └──  Album.Play",
            "                                └── (T) Aqua Regia",
            "                                    └──  Album.Play",
        ], drawn);
        Assert.Matches(@"└──  Album\.Play .*Program\.cs:\d+$", run.OutLines[9]);
    }

    [Fact]
    public async Task Ps_CsvAndJson_SameRows()
    {
        var csv = await ToolRun.Of("ps", Pid, "--format", "csv", "--timeout", Patient);
        var json = await ToolRun.Of("ps", Pid, "--format", "json", "--timeout", Patient);

        Assert.Equal(0, csv.ExitCode);
        Assert.Equal("tid,task id,task name,coroutine stack,awaiter chain,awaiter name,awaiter id", csv.OutLines[0]);
        Assert.Equal(8, csv.OutLines.Length);
        Assert.Contains(csv.OutLines, l => l.EndsWith(",Aqua Regia,Album.Play,TaskGroup.ExitAsync -> TaskGroup.RunCore -> Album.Record,TMBTE,0x3", StringComparison.Ordinal)
            || l.Contains(",Aqua Regia,Album.Play,", StringComparison.Ordinal));
        Assert.Equal(0, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Out);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(7, rows.Count);
        Assert.Equal(["tid", "taskId", "taskName", "coroutineStack", "awaiterChain", "awaiterName", "awaiterId"], rows[0].EnumerateObject().Select(p => p.Name));
        Assert.Contains(rows, r => r.GetProperty("taskName").GetString() == "Levitate" && r.GetProperty("awaiterName").GetString() == "Sundowning");
    }

    [Fact]
    public async Task TopOnce_Album_ShowsTasksByState()
    {
        var run = await ToolRun.Of("top", Pid, "--once", "--timeout", Patient);

        Assert.Equal(0, run.ExitCode);
        Assert.Contains("running:  nothing", run.Out, StringComparison.Ordinal);
        Assert.Contains("tasks:    7 alive: 0 running, 0 ready, 7 waiting, 0 waiting outside the loop", run.Out, StringComparison.Ordinal);
        Assert.Contains(run.OutLines, l => l.Contains("Levitate", StringComparison.Ordinal) && l.Contains("Album.Play", StringComparison.Ordinal) && l.EndsWith("Sundowning", StringComparison.Ordinal));
    }

    [GeneratedRegex(@" /\S+:\d+$")]
    private static partial Regex SourcePlace();
}

public sealed class DeadlockTarget : IDisposable
{
    public TargetProcess Process { get; } = TargetProcess.Start("deadlock");

    public void Dispose() => Process.Dispose();
}

public sealed class DeadlockTests(DeadlockTarget target) : IClassFixture<DeadlockTarget>
{
    private string Pid => target.Process.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Pstree_TasksAwaitingEachOther_ReportsCycleOnStderrWithStatus1()
    {
        var run = await ToolRun.Of("pstree", Pid, "--timeout", "60");

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("", run.Out);
        Assert.Equal("ERROR: await-graph contains cycles - cannot print a tree!\n\ncycle: Bob → Alice → Bob\n", run.Err);
    }

    [Fact]
    public async Task Ps_TasksAwaitingEachOther_StillPrints()
    {
        var run = await ToolRun.Of("ps", Pid, "--timeout", "60");

        Assert.Equal(0, run.ExitCode);
        Assert.Contains(run.OutLines, l => l.Contains(" Alice ", StringComparison.Ordinal) && l.Contains(" Bob ", StringComparison.Ordinal) && l.Contains("Deadlock.WaitForB", StringComparison.Ordinal));
        Assert.Contains(run.OutLines, l => l.Contains(" Bob ", StringComparison.Ordinal) && l.Contains(" Alice ", StringComparison.Ordinal) && l.Contains("Deadlock.WaitForA", StringComparison.Ordinal));
    }
}

public sealed class BlockedLoopTests
{
    [Fact]
    public async Task TopOnce_LoopBlockedInAStep_AnswersWithTheRunningStep()
    {
        using var target = TargetProcess.Start("blocked");

        var run = await ToolRun.Of("top", target.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--once", "--timeout", "60");

        Assert.Equal(0, run.ExitCode);
        Assert.Matches(@"running:  a step of task 'hog' \(0x[0-9a-f]+\) in Blocked\.Hog, for \d+\.\d+ s", run.Out);
        Assert.Contains("debug on", run.Out, StringComparison.Ordinal);
        Assert.Matches(@"idle\s+waiting\s+\d+\.\d+ s\s+Blocked\.Idle", run.Out);
    }

    [Fact]
    public async Task TopOnce_BlockedWithoutDebugMode_SecondLookSaysAtLeast()
    {
        // The loop was blocked before any request, so it has no batch start: the first answer has seen the step
        // for 0 s, the next one "at least" since then.
        using var target = TargetProcess.Start("blocked-nodebug");
        var pid = target.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var first = await ToolRun.Of("top", pid, "--once", "--timeout", "60");
        var second = await ToolRun.Of("top", pid, "--once", "--timeout", "60");

        Assert.Contains("running:  a step of task 'hog'", first.Out, StringComparison.Ordinal);
        Assert.Matches(@"running:  a step of task 'hog' \(0x[0-9a-f]+\) in Blocked\.Hog, for at least \d+\.\d+ s", second.Out);
        Assert.Contains("debug off", second.Out, StringComparison.Ordinal);
    }
}

public sealed class ErrorTests
{
    [Fact]
    public async Task Ps_NoSuchProcess_Status3()
    {
        var run = await ToolRun.Of("ps", "2147483600");

        Assert.Equal(ExitCodes.NoSuchProcess, run.ExitCode);
        Assert.Equal("kettle: no process with id 2147483600.\n", run.Err);
    }

    [Fact]
    public async Task Ps_NotDotNet_Status4()
    {
        using var sleep = Process.Start(new ProcessStartInfo("sleep", "600") { UseShellExecute = false })!;
        try
        {
            var run = await ToolRun.Of("ps", sleep.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));

            Assert.Equal(ExitCodes.NotDotNet, run.ExitCode);
            Assert.StartsWith($"kettle: process {sleep.Id} (sleep) is not a .NET process: it has no diagnostics socket", run.Err, StringComparison.Ordinal);
        }
        finally
        {
            sleep.Kill();
            sleep.WaitForExit();
        }
    }

    [Fact]
    public async Task Ps_DotNetWithoutKettle_Status5AfterTimeout()
    {
        using var plain = TargetProcess.Start("plain");

        var run = await ToolRun.Of("ps", plain.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--timeout", "2");

        Assert.Equal(ExitCodes.NoKettle, run.ExitCode);
        Assert.Contains("is a .NET process, but nothing answered for Kettle within 2 s", run.Err, StringComparison.Ordinal);
        Assert.Equal("", run.Out);
    }

    [Fact]
    public async Task Ps_IntrospectionSwitchedOff_Status8()
    {
        using var target = TargetProcess.Start("album", new Dictionary<string, string> { ["KETTLE_INTROSPECTION"] = "0" });

        var run = await ToolRun.Of("pstree", target.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--timeout", "60");

        Assert.Equal(ExitCodes.IntrospectionOff, run.ExitCode);
        Assert.Contains("has Kettle introspection switched off (KETTLE_INTROSPECTION=0", run.Err, StringComparison.Ordinal);
        Assert.Equal("", run.Out);
    }

    [Fact]
    public async Task Ps_UnknownFormat_Status2()
    {
        var run = await ToolRun.Of("ps", "1", "--format", "xml");

        Assert.Equal(ExitCodes.Usage, run.ExitCode);
        Assert.Contains("xml", run.Err, StringComparison.Ordinal);
    }
}

public sealed class ExitMidReadTests
{
    [Fact]
    public async Task Ps_ProcessExitsMidAnswer_Status7()
    {
        using var target = TargetProcess.Start("vanish");

        var run = await ToolRun.Of("ps", target.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--timeout", "60");

        Assert.True(run.ExitCode == ExitCodes.ExitedMidRead, run.Err);
        Assert.Matches(@"^kettle: process \d+ \(.*\) (exited while it was being read|closed the diagnostics session before answering)\.\n$", run.Err);
        Assert.Equal("", run.Out);
    }
}

public sealed class LargeSnapshotTests
{
    [Fact]
    public async Task Ps_600Tasks_AnswerSpansManyEventsAndArrivesWhole()
    {
        using var target = TargetProcess.Start("many");

        var run = await ToolRun.Of("ps", target.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--format", "json", "--timeout", "60");

        Assert.True(run.ExitCode == 0, run.Err);
        using var doc = JsonDocument.Parse(run.Out);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(601, rows.Count);
        var workers = rows.Where(r => r.GetProperty("taskName").GetString()!.StartsWith("worker-", StringComparison.Ordinal)).ToList();
        Assert.Equal(600, workers.Select(r => r.GetProperty("taskName").GetString()).Distinct().Count());
        Assert.All(workers, r => Assert.Equal("Task-1", r.GetProperty("awaiterName").GetString()));
    }
}

/// <summary>Ctrl+C on a program whose main task awaits a pair of tasks awaiting each other.</summary>
public sealed class DeadlockInterruptTests
{
    [Fact]
    public async Task CtrlC_MainAwaitingTasksThatAwaitEachOther_AllCancelledAndExits130()
    {
        using var target = TargetProcess.Start("deadlock");

        var (exitCode, output) = await target.InterruptAsync(TimeSpan.FromSeconds(60));

        // The cancel of main went round the Alice/Bob cycle once (it used to recurse until the stack overflowed).
        Assert.Equal("stopped: Alice cancelled, Bob cancelled\n", output);
        Assert.Equal(130, exitCode);
    }
}

/// <summary>A fact that needs root, to run the tool as another user (setpriv); skipped, saying why, elsewhere.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (!OperatingSystem.IsLinux() || !Environment.IsPrivilegedProcess || !File.Exists("/usr/bin/setpriv"))
        {
            Skip = "needs Linux, root and setpriv: the test runs kettle as the user nobody against a process of root";
        }
    }
}

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PermissionTests
{
    [RootFact]
    public async Task Ps_AnotherUsersProcess_Status6WithTheRule()
    {
        using var target = TargetProcess.Start("album");
        // The tool as a separate process of the user nobody, from a world-readable copy of its build.
        var copy = Directory.CreateTempSubdirectory("kettle-perm-");
        try
        {
            foreach (var f in Directory.GetFiles(AppContext.BaseDirectory))
            {
                File.Copy(f, Path.Combine(copy.FullName, Path.GetFileName(f)));
            }
            File.SetUnixFileMode(copy.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
            var psi = new ProcessStartInfo("/usr/bin/setpriv")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = copy.FullName,
            };
            foreach (var a in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", dotnet, Path.Combine(copy.FullName, "kettle.dll"), "ps", target.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--timeout", "30" })
            {
                psi.ArgumentList.Add(a);
            }
            psi.Environment["HOME"] = copy.FullName;
            psi.Environment["DOTNET_CLI_HOME"] = copy.FullName;
            using var tool = Process.Start(psi)!;
            var err = tool.StandardError.ReadToEndAsync();
            var output = await tool.StandardOutput.ReadToEndAsync();
            await tool.WaitForExitAsync();

            Assert.Equal(ExitCodes.PermissionDenied, tool.ExitCode);
            Assert.Equal("", output);
            Assert.StartsWith($"kettle: permission denied: process {target.Pid} (dotnet) belongs to another user.", await err, StringComparison.Ordinal);
        }
        finally
        {
            copy.Delete(recursive: true);
        }
    }
}
