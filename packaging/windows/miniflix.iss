; Inno Setup script for MiniFlix Studio on Windows (x64). Build the app first, then:
;   python packaging\build.py
;   iscc /DAppVersion=0.1.0 packaging\windows\miniflix.iss
; Output: packaging\dist\miniflix-<version>-windows-x64-setup.exe
; Installs per user by default (no admin needed) or for all users; data goes to %LOCALAPPDATA%\MiniFlix
; (never into the install folder), unless a file named `portable` sits beside miniflix.exe.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "MiniFlix Studio"
#define DistDir "..\dist\miniflix"

[Setup]
AppId={{7C0E6A2B-4E55-4C8F-9C1B-2E8B1D5A9F01}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=MiniFlix Studio developers
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\dist
OutputBaseFilename=miniflix-{#AppVersion}-windows-x64-setup
SetupIconFile=..\resources\miniflix.ico
UninstallDisplayIcon={app}\MiniFlix Studio.exe
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesAssociations=no

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the miniflix command to PATH"; Flags: unchecked

[Files]
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\MiniFlix Studio.exe"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\MiniFlix Studio.exe"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; \
  ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\MiniFlix Studio.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; The VLC plugin cache libvlc may write next to its plugins; user data is left alone.
Type: files; Name: "{app}\_internal\vlc\plugins\plugins.dat"

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Paths: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Paths) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;
