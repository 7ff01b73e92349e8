using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kettle;

/// <summary>
/// How a worker process is started: <c>dotnet exec --runtimeconfig … --depsfile … app.dll</c> from the application's
/// own build, with Kettle's <see cref="StartupHook"/> taking over before <c>Main</c>.
/// </summary>
/// <remarks>Threading: immutable once made; any thread.</remarks>
internal sealed class WorkerLauncher
{
    private const string HookSwitch = "System.StartupHookProvider.IsSupported";

    private WorkerLauncher(string host, string entry, string runtimeConfig, string? depsFile, string kettlePath)
    {
        Host = host;
        Entry = entry;
        RuntimeConfig = runtimeConfig;
        DepsFile = depsFile;
        KettlePath = kettlePath;
    }

    public string Host { get; }

    public string Entry { get; }

    public string RuntimeConfig { get; private set; }

    public string? DepsFile { get; }

    public string KettlePath { get; }

    /// <summary>Finds what to start; throws <see cref="InvalidOperationException"/> saying what is missing.</summary>
    public static WorkerLauncher Find(string? workerAssembly)
    {
        string kettle = typeof(WorkerLauncher).Assembly.Location;
        if (string.IsNullOrEmpty(kettle))
        {
            throw new InvalidOperationException(
                "A process pool needs Kettle.dll on disk (it starts workers through a startup hook): single-file and NativeAOT applications cannot use it.");
        }
        string entry;
        string? deps;
        string? config;
        if (workerAssembly is not null)
        {
            entry = Path.GetFullPath(workerAssembly);
            deps = Sibling(entry, ".deps.json");
            config = Sibling(entry, ".runtimeconfig.json");
        }
        else
        {
            entry = Assembly.GetEntryAssembly()?.Location ?? string.Empty;
            if (string.IsNullOrEmpty(entry))
            {
                throw new InvalidOperationException(
                    "A process pool starts workers from the application's entry assembly, and this process has none on disk. Set ProcessPoolOptions.WorkerAssembly.");
            }
            // The dependencies this process started with (a test host runs with the test project's), and the runtime
            // config beside them.
            deps = (AppContext.GetData("APP_CONTEXT_DEPS_FILES") as string)?.Split(';', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(File.Exists);
            config = deps is not null && deps.EndsWith(".deps.json", StringComparison.OrdinalIgnoreCase)
                && File.Exists(deps[..^".deps.json".Length] + ".runtimeconfig.json")
                ? deps[..^".deps.json".Length] + ".runtimeconfig.json"
                : null;
            deps ??= Sibling(entry, ".deps.json");
            config ??= Sibling(entry, ".runtimeconfig.json");
        }
        if (!File.Exists(entry))
        {
            throw new InvalidOperationException($"The worker assembly {entry} does not exist.");
        }
        if (config is null)
        {
            throw new InvalidOperationException(
                $"There is no runtime config ({Path.GetFileNameWithoutExtension(entry)}.runtimeconfig.json) beside {entry}: workers cannot start from it. Set ProcessPoolOptions.WorkerAssembly to an application's .dll.");
        }
        return new WorkerLauncher(FindHost(), entry, config, deps, kettle);
    }

    /// <summary>
    /// Where workers start from when the runtime config turns startup hooks off (apps built with PublishAot, as
    /// file-based apps are): a private directory holding a copy of the config with hooks on. Null otherwise.
    /// </summary>
    public string? PatchedConfigDirectory { get; private set; }

    /// <summary>
    /// Makes sure workers will run Kettle's startup hook: if the runtime config disables startup hooks, workers use a
    /// copy of it (in a private temporary directory) that enables them. Without the hook a worker would run the
    /// application's Main instead.
    /// </summary>
    public void EnsureStartupHooks()
    {
        var options = new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(RuntimeConfig), documentOptions: options);
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"The runtime config {RuntimeConfig} cannot be read: {ex.Message}", ex);
        }
        if (root?["runtimeOptions"]?["configProperties"] is not JsonObject props
            || !props.TryGetPropertyValue(HookSwitch, out var value)
            || value is null
            || value.GetValueKind() != JsonValueKind.False)
        {
            return;
        }
        props[HookSwitch] = true;
        var dir = Directory.CreateTempSubdirectory("kettle-worker-");
        string path = Path.Combine(dir.FullName, Path.GetFileName(RuntimeConfig));
        File.WriteAllText(path, root.ToJsonString());
        PatchedConfigDirectory = dir.FullName;
        RuntimeConfig = path;
    }

    /// <summary>Deletes the patched runtime config, if any.</summary>
    public void Cleanup()
    {
        if (PatchedConfigDirectory is { } dir)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    /// <summary>The start info of one worker.</summary>
    public ProcessStartInfo CreateStartInfo()
    {
        var psi = new ProcessStartInfo(Host)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = false,
            CreateNoWindow = true,
        };
        psi.ArgumentList.Add("exec");
        psi.ArgumentList.Add("--runtimeconfig");
        psi.ArgumentList.Add(RuntimeConfig);
        if (DepsFile is not null)
        {
            psi.ArgumentList.Add("--depsfile");
            psi.ArgumentList.Add(DepsFile);
        }
        psi.ArgumentList.Add(Entry);
        string? hooks = Environment.GetEnvironmentVariable(ProcessWorker.StartupHooksVariable);
        psi.Environment[ProcessWorker.SavedHooksVariable] = hooks ?? string.Empty;
        psi.Environment[ProcessWorker.StartupHooksVariable] = string.IsNullOrEmpty(hooks) ? KettlePath : hooks + Path.PathSeparator + KettlePath;
        psi.Environment[ProcessWorker.WorkerVariable] = "1";
        return psi;
    }

    private static string? Sibling(string dll, string extension)
    {
        string path = Path.Combine(Path.GetDirectoryName(dll) ?? ".", Path.GetFileNameWithoutExtension(dll) + extension);
        return File.Exists(path) ? path : null;
    }

    /// <summary>The dotnet host: this process's if it is one, else the one above the runtime directory, else PATH.</summary>
    private static string FindHost()
    {
        string exe = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.ProcessPath is { } self && string.Equals(Path.GetFileName(self), exe, StringComparison.OrdinalIgnoreCase))
        {
            return self;
        }
        // <root>/shared/Microsoft.NETCore.App/<version>/
        var dir = new DirectoryInfo(RuntimeEnvironment.GetRuntimeDirectory().TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        var root = dir.Parent?.Parent?.Parent;
        if (root is not null && File.Exists(Path.Combine(root.FullName, exe)))
        {
            return Path.Combine(root.FullName, exe);
        }
        foreach (var candidate in new[] { Environment.GetEnvironmentVariable("DOTNET_ROOT") }
            .Concat((Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator)))
        {
            if (!string.IsNullOrEmpty(candidate) && File.Exists(Path.Combine(candidate, exe)))
            {
                return Path.Combine(candidate, exe);
            }
        }
        throw new InvalidOperationException("The dotnet host was not found (neither beside the runtime nor on PATH): workers cannot start.");
    }
}
