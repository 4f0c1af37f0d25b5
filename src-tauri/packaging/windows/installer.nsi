; Latchkey's per-user Windows installer, built on Linux with Debian's makensis by
; `./dev.sh windows [dev|release]` and installed and uninstalled under Wine by the test suite
; (tests/tests/windows.rs). No administrator prompt: everything goes under the person's own
; profile and HKCU.
;
; Defines given by dev.sh: VERSION (0.1.0), SRCDIR (folder with both .exe files), ICON (.ico),
; OUTFILE (the installer to write).
;
; What it adds, and the uninstaller removes:
;   %LOCALAPPDATA%\Programs\Latchkey\  latchkey.exe (command line), latchkey-desktop.exe (the
;                                     app), WebView2Loader.dll (Microsoft's loader for the
;                                     WebView2 runtime, which the mingw build links), uninstall.exe
;   Start menu                        Latchkey.lnk -> latchkey-desktop.exe
;   HKCU\Software\Classes\dev.latchkey  the sign-in link protocol -> "latchkey-desktop.exe" "%1"
;   HKCU\Environment Path             the install folder, so `latchkey token` works in any terminal
;   HKCU\...\Windows Error Reporting\ExcludedApplications  both programs (no crash reports, S31)
;   HKCU\...\CurrentVersion\Uninstall\Latchkey  "Installed apps" entry
; What it leaves: the accounts (Credential Manager, and %APPDATA%\latchkey with no secrets in
; it), unless the person ran `latchkey logout --all` first.

Target amd64-unicode
ManifestDPIAware true
RequestExecutionLevel user
SetCompressor /SOLID lzma

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "StrFunc.nsh"
${StrStr}
${UnStrRep}

!define PRODUCT "Latchkey"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\Latchkey"
!define CLASSES_KEY "Software\Classes\dev.latchkey"
!define WER_KEY "Software\Microsoft\Windows\Windows Error Reporting\ExcludedApplications"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define STATE_KEY "Software\Latchkey"

Name "${PRODUCT}"
OutFile "${OUTFILE}"
InstallDir "$LOCALAPPDATA\Programs\Latchkey"
InstallDirRegKey HKCU "${STATE_KEY}" "InstallDir"
BrandingText "${PRODUCT} ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCT}"
VIAddVersionKey "FileDescription" "${PRODUCT} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "The Latchkey developers"
VIAddVersionKey "LegalCopyright" "2026 The Latchkey developers"

!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_FINISHPAGE_RUN "$INSTDIR\latchkey-desktop.exe"
!define MUI_FINISHPAGE_RUN_TEXT "Open Latchkey"
!define MUI_UNCONFIRMPAGE_TEXT_TOP "Latchkey will be removed from this computer. Your connected accounts stay in Windows Credential Manager, so reinstalling brings them back. To remove them too, cancel and run $\"latchkey logout --all$\" in a terminal first."
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Section "Latchkey"
  SetOutPath "$INSTDIR"
  File "${SRCDIR}/latchkey.exe"
  File "${SRCDIR}/latchkey-desktop.exe"
  File "${SRCDIR}/WebView2Loader.dll"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKCU "${STATE_KEY}" "InstallDir" "$INSTDIR"

  CreateShortCut "$SMPROGRAMS\Latchkey.lnk" "$INSTDIR\latchkey-desktop.exe" "" "$INSTDIR\latchkey-desktop.exe" 0 SW_SHOWNORMAL "" "Keeps your sign-ins fresh and hands tokens to your tools"

  ; dev.latchkey: sign-in links open the installed app (which checks them, S8).
  WriteRegStr HKCU "${CLASSES_KEY}" "" "URL:Latchkey sign-in"
  WriteRegStr HKCU "${CLASSES_KEY}" "URL Protocol" ""
  WriteRegStr HKCU "${CLASSES_KEY}\DefaultIcon" "" '"$INSTDIR\latchkey-desktop.exe",0'
  WriteRegStr HKCU "${CLASSES_KEY}\shell\open\command" "" '"$INSTDIR\latchkey-desktop.exe" "%1"'

  ; No crash reports with tokens in them (S31).
  WriteRegDWORD HKCU "${WER_KEY}" "latchkey.exe" 1
  WriteRegDWORD HKCU "${WER_KEY}" "latchkey-desktop.exe" 1

  ; The command line on the person's PATH. NSIS strings hold 1024 characters: a longer PATH
  ; is left alone rather than cut (the install folder is then named in the details).
  ReadRegStr $0 HKCU "Environment" "Path"
  StrLen $2 $0
  ${StrStr} $1 ";$0;" ";$INSTDIR;"
  ${If} $1 != ""
    DetailPrint "$INSTDIR is already on your PATH"
  ${ElseIf} $2 > 900
    DetailPrint "Your PATH is long; add $INSTDIR to it yourself to run latchkey from any terminal"
  ${Else}
    ${If} $0 == ""
      WriteRegExpandStr HKCU "Environment" "Path" "$INSTDIR"
    ${Else}
      WriteRegExpandStr HKCU "Environment" "Path" "$0;$INSTDIR"
    ${EndIf}
    WriteRegStr HKCU "${STATE_KEY}" "AddedToPath" "1"
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=500
  ${EndIf}

  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${PRODUCT}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "The Latchkey developers"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\latchkey-desktop.exe"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
SectionEnd

Section "Uninstall"
  Delete /REBOOTOK "$INSTDIR\latchkey.exe"
  Delete /REBOOTOK "$INSTDIR\latchkey-desktop.exe"
  Delete /REBOOTOK "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\Latchkey.lnk"

  DeleteRegKey HKCU "${CLASSES_KEY}"
  DeleteRegValue HKCU "${WER_KEY}" "latchkey.exe"
  DeleteRegValue HKCU "${WER_KEY}" "latchkey-desktop.exe"
  ; "Start Latchkey when I sign in" (the app's setting, written by the autostart plugin).
  DeleteRegValue HKCU "${RUN_KEY}" "${PRODUCT}"

  ReadRegStr $1 HKCU "${STATE_KEY}" "AddedToPath"
  ${If} $1 == "1"
    ReadRegStr $0 HKCU "Environment" "Path"
    ${UnStrRep} $0 ";$0;" ";$INSTDIR;" ";"
    ; Drop the separators added around it above.
    StrCpy $2 $0 1
    ${If} $2 == ";"
      StrCpy $0 $0 "" 1
    ${EndIf}
    StrCpy $2 $0 1 -1
    ${If} $2 == ";"
      StrCpy $0 $0 -1
    ${EndIf}
    ${If} $0 == ""
      DeleteRegValue HKCU "Environment" "Path"
    ${Else}
      WriteRegExpandStr HKCU "Environment" "Path" "$0"
    ${EndIf}
    SendMessage ${HWND_BROADCAST} ${WM_SETTINGCHANGE} 0 "STR:Environment" /TIMEOUT=500
  ${EndIf}

  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "${STATE_KEY}"
SectionEnd
