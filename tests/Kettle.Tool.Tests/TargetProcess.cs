using System.Diagnostics;
using System.Reflection;

namespace Kettle.Tool.Tests;

/// <summary>A running Kettle.Tool.TestTarget child process, ready once it printed "ready PID"; killed on dispose.</summary>
public sealed class TargetProcess : IDisposable
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(90); // the machine is shared and loaded

    private readonly Process process;

    public int Pid => process.Id;

    private TargetProcess(Process process) => this.process = process;

    public static TargetProcess Start(string mode, IDictionary<string, string>? environment = null)
    {
        var dll = typeof(TargetProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "TestTarget").Value!;
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("exec");
        info.ArgumentList.Add(Path.GetFullPath(dll));
        info.ArgumentList.Add(mode);
        info.Environment.Remove("KETTLE_DEBUG");
        info.Environment.Remove("KETTLE_INTROSPECTION");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[k] = v;
        }
        var p = Process.Start(info)!;
        var target = new TargetProcess(p);
        try
        {
            // Readiness is a line the child prints once its tasks are in place: never a fixed sleep.
            var line = p.StandardOutput.ReadLineAsync().WaitAsync(ReadyTimeout).GetAwaiter().GetResult();
            Assert.Equal($"ready {p.Id}", line);
        }
        catch
        {
            target.Dispose();
            throw;
        }
        return target;
    }

    /// <summary>Sends SIGINT (what Ctrl+C sends) and waits, at most <paramref name="patience"/> (a hang guard), for
    /// the process to exit; returns its exit code and what it printed after "ready".</summary>
    public async Task<(int ExitCode, string Out)> InterruptAsync(TimeSpan patience)
    {
        using (var kill = Process.Start("kill", ["-INT", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync().WaitAsync(patience);
            Assert.Equal(0, kill.ExitCode);
        }
        var output = await process.StandardOutput.ReadToEndAsync().WaitAsync(patience);
        await process.WaitForExitAsync().WaitAsync(patience);
        return (process.ExitCode, output);
    }

    public void Dispose()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
    }
}

/// <summary>What one run of the kettle command line printed, and its exit status.</summary>
public sealed record ToolRun(int ExitCode, string Out, string Err)
{
    public string[] OutLines => Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    public static async Task<ToolRun> Of(params string[] args)
    {
        var o = new StringWriter { NewLine = "\n" };
        var e = new StringWriter { NewLine = "\n" };
        int code = await KettleCli.RunAsync(args, o, e);
        return new ToolRun(code, o.ToString(), e.ToString());
    }
}
