namespace Kettle;

/// <summary>Readable method names from compiler-generated type names, for task reprs and reports.</summary>
internal static class MethodNames
{
    /// <summary>"&lt;Greet&gt;d__0" gives "Type.Greet"; a local function "&lt;&lt;Main&gt;$&gt;g__Greet|0_0" gives "Greet";
    /// a lambda gives "Outer.&lt;lambda&gt;".</summary>
    public static string FromStateMachine(Type stateMachine)
    {
        var name = Clean(stateMachine.Name);
        var declaring = stateMachine.DeclaringType;
        return declaring is null || IsTopLevelProgram(declaring) || name.Contains('.', StringComparison.Ordinal) ? name : $"{Clean(declaring.Name)}.{name}";
    }

    /// <summary>The same cleaning for a delegate's method name.</summary>
    public static string FromMethod(System.Reflection.MethodInfo method)
    {
        var name = Clean(method.Name);
        var declaring = method.DeclaringType;
        while (declaring is not null && declaring.Name.StartsWith('<'))
        {
            declaring = declaring.DeclaringType; // closure classes: name the method's real owner
        }
        return declaring is null || IsTopLevelProgram(declaring) ? name : $"{declaring.Name}.{name}";
    }

    private static bool IsTopLevelProgram(Type t) => t.Name == "Program" && t.Namespace is null;

    private static string Clean(string n)
    {
        int g = n.IndexOf("g__", StringComparison.Ordinal);
        if (g >= 0)
        {
            int end = n.IndexOf('|', g);
            return end > g ? n[(g + 3)..end] : n[(g + 3)..];
        }
        if (n.Contains("b__", StringComparison.Ordinal))
        {
            int a0 = n.IndexOf('<', StringComparison.Ordinal);
            int b0 = n.IndexOf('>', StringComparison.Ordinal);
            var outer = a0 >= 0 && b0 > a0 + 1 ? n[(a0 + 1)..b0].TrimStart('<') : "";
            return outer.Length > 0 && outer != "Main" && outer != "<Main>$" ? $"{outer}.<lambda>" : "<lambda>";
        }
        int a = n.IndexOf('<', StringComparison.Ordinal);
        int b = n.IndexOf('>', StringComparison.Ordinal);
        return a >= 0 && b > a + 1 ? n[(a + 1)..b] : n;
    }
}
