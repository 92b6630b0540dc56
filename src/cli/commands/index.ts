import type { RegisterCommand } from '../context.ts';
import { registerValidate } from './validate.ts';
import { registerIptables } from './iptables.ts';
import { registerProxyConfig } from './proxy-config.ts';
import { registerExplain } from './explain.ts';
import { registerDoctor } from './doctor.ts';
import { registerLab } from './lab.ts';
import { registerRun } from './run.ts';
import { registerProbe } from './probe.ts';
import { registerReport } from './report.ts';
import { registerCapture } from './capture.ts';

/** Every top-level command, in the order `pathlab --help` lists them. */
export const commands: RegisterCommand[] = [registerRun, registerProbe, registerReport, registerValidate, registerIptables, registerProxyConfig, registerExplain, registerCapture, registerLab, registerDoctor];
