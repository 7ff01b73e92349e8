using System.Collections.Concurrent;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Kettle;

/// <summary>
/// Where a coroutine's method is in the source: the first line of its state machine's MoveNext, read from the
/// portable PDB next to (or embedded in) the assembly. Diagnostics only (call graphs, slow-step logs); results
/// are cached per state-machine type; anything missing (no PDB, a dynamic assembly) gives null, never an error.
/// </summary>
internal static class SourceLocations
{
    private static readonly ConcurrentDictionary<Type, (string File, int Line)?> ByType = new();
    private static readonly ConcurrentDictionary<Assembly, MetadataReaderProvider?> Pdbs = new();

    /// <summary>"Type.Method (File.cs:12)" or just the method's name when the source is unknown.</summary>
    public static string Describe(AioTask frame) =>
        Of(frame) is { } at ? $"{frame.CoroutineName} ({at.File}:{at.Line})" : frame.CoroutineName;

    public static (string File, int Line)? Of(AioTask frame) =>
        frame.StateMachineType is { } t ? ByType.GetOrAdd(t, Lookup) : null;

    private static (string File, int Line)? Lookup(Type stateMachine)
    {
        try
        {
            var moveNext = stateMachine.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes);
            if (moveNext is null || Pdbs.GetOrAdd(stateMachine.Assembly, OpenPdb) is not { } provider)
            {
                return null;
            }
            var reader = provider.GetMetadataReader();
            var handle = MetadataTokens.MethodDefinitionHandle(moveNext.MetadataToken);
            foreach (var sp in reader.GetMethodDebugInformation(handle.ToDebugInformationHandle()).GetSequencePoints())
            {
                if (!sp.IsHidden)
                {
                    return (reader.GetString(reader.GetDocument(sp.Document).Name), sp.StartLine);
                }
            }
        }
        catch (Exception ex) when (ex is BadImageFormatException or IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
        {
        }
        return null;
    }

    private static MetadataReaderProvider? OpenPdb(Assembly assembly)
    {
        try
        {
            if (assembly.IsDynamic || assembly.Location is not { Length: > 0 } path || !File.Exists(path))
            {
                return null;
            }
            using var pe = new PEReader(File.OpenRead(path));
            return pe.TryOpenAssociatedPortablePdb(path, p => File.Exists(p) ? File.OpenRead(p) : null, out var provider, out _) ? provider : null;
        }
        catch (Exception ex) when (ex is BadImageFormatException or IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }
}
